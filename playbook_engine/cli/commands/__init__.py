"""One module per `playbook` command, each exposing a click command named `command`."""
