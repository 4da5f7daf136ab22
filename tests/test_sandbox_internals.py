"""The Jinja2 internals the sandbox relies on still have the shape it was written against.

`pyproject.toml` pins Jinja2 to the tested range (`>=3.1.6,<3.2`). If a release inside it, or a
deliberate widening of the pin, changes one of these, this test names what changed instead of
letting the sandbox fail in some distant way.
"""

from __future__ import annotations

import inspect

import jinja2
import pytest
from jinja2 import compiler, idtracking, nodes, runtime, utils


def _needs(condition: bool, what: str) -> None:
    if not condition:
        pytest.fail(
            f"Jinja2 {jinja2.__version__} changed an internal the sandbox relies on: {what}. "
            "Review playbook_engine/sandbox/ against this Jinja2 before widening the pin."
        )


def test_code_generator_hooks() -> None:
    generator = compiler.CodeGenerator
    _needs(hasattr(generator, "visit_Template"), "CodeGenerator.visit_Template")
    _needs(hasattr(generator, "enter_frame"), "CodeGenerator.enter_frame")
    params = inspect.signature(generator.visit_Call).parameters
    _needs("forward_caller" in params, "CodeGenerator.visit_Call(node, frame, forward_caller)")
    init = inspect.signature(generator.__init__).parameters
    _needs(
        list(init)[1:6] == ["environment", "name", "filename", "stream", "defer_init"],
        "CodeGenerator(environment, name, filename, stream, defer_init, optimized)",
    )
    _needs("optimized" in init, "CodeGenerator(..., optimized=...)")


def test_frame_symbols_and_load_actions() -> None:
    _needs(hasattr(compiler, "Frame"), "jinja2.compiler.Frame")
    _needs(idtracking.VAR_LOAD_RESOLVE == "resolve", "idtracking.VAR_LOAD_RESOLVE == 'resolve'")
    symbols = idtracking.Symbols()
    _needs(isinstance(getattr(symbols, "loads", None), dict), "Symbols.loads is a dict")


def test_pass_arg_markers() -> None:
    members = {"context", "eval_context", "environment"}
    _needs(members <= set(utils._PassArg.__members__), "utils._PassArg members")
    _needs(callable(getattr(utils._PassArg, "from_obj", None)), "utils._PassArg.from_obj")


def test_runtime_and_nodes_used() -> None:
    for name in ("LoopContext", "Macro", "Undefined", "markup_join", "Context"):
        _needs(hasattr(runtime, name), f"jinja2.runtime.{name}")
    for name in ("Template", "Output", "For", "Call", "Concat", "List", "Dict", "Tuple"):
        _needs(hasattr(nodes, name), f"jinja2.nodes.{name}")
    _needs(hasattr(nodes, "EvalContext"), "jinja2.nodes.EvalContext")


def test_the_sandbox_still_compiles_and_renders_with_these_internals() -> None:
    from playbook_engine import sandbox

    template = sandbox.compile_template(
        "{% for x in items %}{{ loop.index }}={{ x }} {% endfor %}", "plain"
    )
    assert sandbox.render(template, {"items": ["a", "b"]}) == "1=a 2=b "
    assert sandbox.check_template("{{ incident.title }}", "plain").variables == frozenset(
        {"incident"}
    )
