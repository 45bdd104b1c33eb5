"""Environment hygiene and redaction, unit level: the base a tool starts from, the values masked (configured
key names included, whatever they are), the keys an experiment declares, and what each judge is given."""

from __future__ import annotations

from types import SimpleNamespace

from scylla import adapters, pipeline, secrets
from scylla.judges import claude_code as claude_judge
from scylla.judges import command as command_judge
from scylla.spec import AgentConfig, JudgeSlot

CALLER = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "LC_TIME": "C", "TZ": "UTC", "TERM": "xterm",
          "USER": "ada", "LOGNAME": "ada", "SHELL": "/bin/bash", "HOME": "/home/ada", "LANGUAGE": "en",
          "ANTHROPIC_API_KEY": "sk-ant-0123456789", "OPENROUTER_KEY": "sk-or-0123456789", "ROUTER_SESAME": "open-sesame-42",
          "SCYLLA_CALL_LOG": "/tmp/calls", "SCYLLA_TEST_OPENAI_KEY": "sk-test-0123456789", "SCYLLA_RUN_TOKEN": "abcdef012345",
          "PYTEST_ADDOPTS": "-n 2", "SSH_AUTH_SOCK": "/tmp/agent.sock", "AWS_ACCESS_KEY_ID": "AKIA0123456789",
          "PYTHONPATH": "/src"}


def test_base_env_is_the_minimal_base_and_scylla_namespace_without_secrets():
    base = secrets.base_env(CALLER)
    assert base == {k: CALLER[k] for k in ("PATH", "LANG", "LC_ALL", "LC_TIME", "TZ", "TERM", "USER", "LOGNAME",
                                           "SHELL", "LANGUAGE", "SCYLLA_CALL_LOG")}
    assert "HOME" not in base             # the caller decides it


def test_secret_values_mask_configured_names_whatever_they_are():
    # today's name pattern already caught OPENROUTER_KEY (_KEY$); a configured name like ROUTER_SESAME
    # it cannot know: only the experiment's configuration names it
    assert secrets.is_secret("OPENROUTER_KEY")
    assert not secrets.is_secret("ROUTER_SESAME")
    assert "open-sesame-42" not in secrets.secret_values(CALLER)
    hidden = secrets.secret_values(CALLER, names=("ROUTER_SESAME",))
    assert "open-sesame-42" in hidden and "sk-or-0123456789" in hidden and "sk-ant-0123456789" in hidden
    assert secrets.redact("k=open-sesame-42", hidden) == "k=[REDACTED]"
    assert secrets.safe_env(CALLER, ("ROUTER_SESAME",))["ROUTER_SESAME"] == secrets.MASK
    # a short value is never masked (it would mask every "1" in every artifact)
    assert secrets.secret_values({"CLAUDE_CODE_USE_BEDROCK": "1"}, names=("CLAUDE_CODE_USE_BEDROCK",)) == []


def test_names_that_escaped_the_pattern_now_match():
    for name in ("MISTRAL_APIKEY", "MY_JUDGE_CREDENTIAL", "DB_PASSWD", "GH_PAT", "OPENAI_KEY_2", "SIGNING_PRIVATE_KEY_PEM"):
        assert secrets.is_secret(name), name
    for name in ("PATH", "SORT_ORDER", "KEYBOARD", "TOKENIZERS_PARALLELISM", "SCYLLA_CALL_LOG"):
        assert not secrets.is_secret(name), name


def _slot(number: int, adapter: str, **kw) -> JudgeSlot:
    return JudgeSlot(number=number, adapter=adapter, model="m", command=kw.pop("command", "true"), options={},
                     retries=0, timeout_seconds=10, **kw)


def _exp(agent: str, *slots: JudgeSlot):
    cfg = AgentConfig(adapter=agent, model="m", command="true", options={}, thinking="none", max_turns=None,
                      timeout_seconds=10, infra_exit_codes=())
    return SimpleNamespace(agent=cfg, judges=slots)


def test_key_variables_are_every_adapters_credentials_and_api_key_env():
    exp = _exp("claude-code", _slot(1, "pipeline"), _slot(2, "command", api_key_env="ROUTER_SESAME"),
               _slot(3, "openai", base_url="http://127.0.0.1:1/v1", api_key_env="OPENROUTER_KEY"),
               _slot(4, "openai"), _slot(5, "command"))
    keys = adapters.key_variables(exp)
    assert set(keys) == {*adapters.agent("claude-code").credentials(exp.agent).variables,
                         "ROUTER_SESAME", "OPENROUTER_KEY", "OPENAI_API_KEY"}
    assert len(keys) == len(set(keys))
    assert adapters.judge_keys(exp.judges[1]) == ("ROUTER_SESAME",)
    assert adapters.judge_keys(exp.judges[4]) == ()         # a command judge that names no key gets none
    assert adapters.key_variables(_exp("command", _slot(1, "command"))) == ()


def test_a_command_judge_gets_only_its_own_key(monkeypatch):
    for k in list(CALLER):
        monkeypatch.delenv(k, raising=False)
    for k, v in CALLER.items():
        monkeypatch.setenv(k, v)
    env = command_judge.environment(_slot(2, "command", api_key_env="ROUTER_SESAME"))
    assert env["ROUTER_SESAME"] == "open-sesame-42" and env["HOME"] == "/home/ada" and env["PYTHONPATH"] == "/src"
    for other in ("ANTHROPIC_API_KEY", "OPENROUTER_KEY", "SCYLLA_TEST_OPENAI_KEY", "AWS_ACCESS_KEY_ID", "SSH_AUTH_SOCK",
                  "PYTEST_ADDOPTS", "SCYLLA_RUN_TOKEN"):
        assert other not in env, other
    # the claude-code judge: its own keys, the CLI's settings, nobody else's
    env = command_judge.environment(_slot(3, "claude-code"))
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-0123456789"
    assert "OPENROUTER_KEY" not in env and "ROUTER_SESAME" not in env


def test_the_claude_judge_passes_its_cli_settings_not_other_secrets():
    caller = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_API_KEY": "sk-ant-0123456789",
              "ANTHROPIC_JUDGE2_KEY": "sk-ant-other-0123", "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "100",
              "AWS_SECRET_ACCESS_KEY": "aws-secret-0123456789", "OPENAI_API_KEY": "sk-openai-0123456789"}
    assert claude_judge.cli_environment(caller) == {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
                                                    "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "100"}
    bedrock = claude_judge.cli_environment({**caller, "CLAUDE_CODE_USE_BEDROCK": "1"})
    assert bedrock["AWS_SECRET_ACCESS_KEY"] == "aws-secret-0123456789" and "OPENAI_API_KEY" not in bedrock


def test_pipeline_steps_get_no_key_and_a_scratch_home(tmp_path, monkeypatch):
    for k, v in CALLER.items():
        monkeypatch.setenv(k, v)
    runner = pipeline._Runner(tmp_path, tmp_path / "commands", tmp_path / "scratch", 10, [])
    (tmp_path / "scratch").mkdir()
    env = runner._environment()
    assert not [k for k in env if secrets.is_secret(k) or k in ("ROUTER_SESAME", "SSH_AUTH_SOCK", "PYTEST_ADDOPTS")]
    assert env["HOME"] == str(tmp_path / "scratch/home") and env["TMPDIR"] == str(tmp_path / "scratch/tmp")
    assert env["PYTHONPATH"] == "/src" and env["SCYLLA_SCRATCH"] == str(tmp_path / "scratch")
    assert (tmp_path / "scratch/home").is_dir()
