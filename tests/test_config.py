"""Configuration precedence and validation, without a broker."""

import pytest

from kpoc.config import load_config, parse_property, read_config_file
from kpoc.errors import ConfigError


def test_precedence_flag_env_file(tmp_path):
    f = tmp_path / "c.properties"
    f.write_text("# comment\nbootstrap.servers=file:1\nlinger.ms=7\nacks=1\n")
    env = {"KPOC_BOOTSTRAP_SERVERS": "env:1", "KPOC_DATA_DIR": str(tmp_path / "none")}
    c = load_config(config_file=f, env=env)
    assert c.bootstrap_servers == "env:1"
    assert c.properties == {"linger.ms": "7", "acks": "1"}
    c = load_config(config_file=f, properties=["acks=all"], bootstrap_servers="flag:1", env=env)
    assert c.bootstrap_servers == "flag:1" and c.properties["acks"] == "all"
    c = load_config(config_file=f, env={"KPOC_DATA_DIR": str(tmp_path / "none")})
    assert c.bootstrap_servers == "file:1"


def test_local_cluster_is_the_default(tmp_path):
    (tmp_path / "cluster.json").write_text('{"bootstrap_servers": "127.0.0.1:29092"}')
    assert load_config(env={"KPOC_DATA_DIR": str(tmp_path)}).bootstrap_servers == (
        "127.0.0.1:29092")


def test_secrets_stay_out_of_repr(tmp_path):
    f = tmp_path / "client.properties"
    f.write_text("sasl.password=hunter2\n")
    c = load_config(properties=["sasl.username=u"], config_file=f,
                    env={"KPOC_DATA_DIR": "/nonexistent"})
    assert c.properties["sasl.password"] == "hunter2"
    assert "hunter2" not in repr(c)
    assert "'sasl.username': 'u'" in repr(c)


@pytest.mark.parametrize("secret", ["sasl.password=hunter2", "ssl.key.password=hunter2"])
def test_secrets_are_refused_on_the_command_line(secret):
    with pytest.raises(ConfigError, match="secret on the command line") as e:
        load_config(properties=[secret], env={"KPOC_DATA_DIR": "/nonexistent"})
    assert "hunter2" not in str(e.value)


def test_password_from_environment_overrides_the_file(tmp_path):
    f = tmp_path / "client.properties"
    f.write_text("sasl.username=u\nsasl.password=old\n")
    c = load_config(config_file=f, env={"KPOC_DATA_DIR": "/nonexistent",
                                        "KPOC_SASL_PASSWORD": "new"})
    assert c.properties["sasl.password"] == "new"


@pytest.mark.parametrize("bad", ["novalue", "=x", ""])
def test_bad_property(bad):
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_property(bad)


def test_bad_config_file(tmp_path):
    f = tmp_path / "c"
    f.write_text("good=1\nthis line is wrong\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_config_file(f)
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "missing")


@pytest.mark.parametrize("t", ["0", "-1", "abc", "99999"])
def test_bad_timeout(t):
    with pytest.raises(ConfigError):
        load_config(env={"KPOC_TIMEOUT": t, "KPOC_DATA_DIR": "/nonexistent"})
