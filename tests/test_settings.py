"""Settings: camelCase from clients, defaults for everything, problems reported, never a crash."""
from __future__ import annotations

import pytest

from asm_lsp.settings import USER_SOURCE, Settings, SettingsLayers, settings_from_dict


def test_defaults_when_nothing_sent():
    assert settings_from_dict(None) == (Settings(), [])
    assert settings_from_dict({}) == (Settings(), [])


def test_camel_case_and_nested_section():
    settings, problems = settings_from_dict({"asmLsp": {"completion": {"maxLines": 3, "mode": "inline"},
                                                        "assembler": {"flags": ["-march=armv8.2-a"]}}})
    assert problems == []
    assert settings.completion.max_lines == 3 and settings.completion.mode == "inline"
    assert settings.assembler.flags == ["-march=armv8.2-a"]
    assert settings.model == Settings().model


@pytest.mark.parametrize("raw, problem", [
    ({"completion": {"maxLines": "many"}}, "asmLsp.completion.max_lines must be a whole number"),
    ({"completion": {"maxLines": 0}}, "must be between 1 and 64"),
    ({"completion": {"mode": "popup"}}, "must be one of inline, list, both"),
    ({"completion": {"enabled": "yes"}}, "must be true or false"),
    ({"assembler": {"flags": "-g"}}, "must be a list of strings"),
    ({"nonsense": {}}, "unknown setting asmLsp.nonsense"),
    ({"model": 3}, "asmLsp.model must be an object"),
    ({"model": {"colour": "red"}}, "unknown setting asmLsp.model.colour"),
])
def test_bad_values_fall_back_with_a_message(raw, problem):
    settings, problems = settings_from_dict(raw)
    assert len(problems) == 1 and problem in problems[0]
    assert settings == Settings()


def test_not_an_object():
    settings, problems = settings_from_dict(["x"])
    assert settings == Settings() and problems == ["asmLsp settings must be an object, got list"]


def test_layers_user_then_workspace_then_command_line():
    layers = SettingsLayers(overrides={"completion": {"maxLines": 2}})
    settings, problems = layers.apply({"completion": {"maxLines": 5, "mode": "inline"}, "assembler": {"path": "/opt/as"}},
                                      USER_SOURCE)
    assert problems == [] and settings.completion.max_lines == 2  # the command line wins
    assert settings.completion.mode == "inline" and settings.assembler.path == "/opt/as"
    settings, problems = layers.apply({"completion": {"mode": "list"}, "assembler": {"path": "/tmp/evil-as"}},
                                      "workspace/configuration")
    assert settings.completion.mode == "list"  # the workspace overrides the user...
    assert settings.assembler.path == "/opt/as"  # ...but cannot name a program
    assert problems == ["asmLsp.assembler.path is ignored in workspace settings (set it in your user settings "
                        "or on the command line)"]
    settings, again = layers.apply({"completion": {"mode": "list"}, "assembler": {"path": "/tmp/evil-as"}},
                                   "didChangeConfiguration")
    assert again == [] and settings.completion.mode == "list"  # each problem is told once
    settings, problems = layers.apply({}, USER_SOURCE)  # new user settings keep the workspace layer
    assert settings.completion.mode == "list" and settings.assembler.path == "" and problems == []


def test_layers_report_a_layer_that_is_not_an_object():
    settings, problems = SettingsLayers().apply("fast", USER_SOURCE)
    assert settings == Settings() and problems == ["settings must be an object, got str"]
