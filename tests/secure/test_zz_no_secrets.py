"""No password or key material in any node log or CLI output.

The passwords of every SCRAM user (admin, demo, and the users the ACL tests create) are looked
for in every file under the nodes' log folders and in the output of every `kpoc` run of the
session (except `kpoc cluster credentials`, whose job is to print them). Named to run last in
this folder so it scans the most output; alone, it still scans the runs it makes itself.
"""

from __future__ import annotations


def test_no_password_or_key_in_logs_or_cli_output(secure_cluster, tmp_path):
    sc = secure_cluster
    # Make sure the scan sees a refused login and a successful one.
    bad = tmp_path / "bad.properties"
    bad.write_text("".join(f"{k}={v}\n" for k, v in sc.props("admin", "x-wrong").items()))
    before = len(sc.outputs)
    refused = sc.run("topics", "list", "-F", str(bad), "--timeout", "5")
    assert refused.returncode != 0 and "authentication" in refused.stderr.lower(), refused.stderr
    assert sc.run("topics", "list", "-F", str(sc.admin_file)).returncode == 0
    secrets = [u["password"] for u in sc.credentials["users"]] + sc.extra_secrets
    p = sc.run("acls", "list", "-F", str(sc.admin_file), "-o", "json")
    assert p.returncode == 0
    assert len(sc.outputs) == before + 3  # this test's own runs are among those scanned
    logs = [f for f in sc.data_dir.glob("node-*/logs/*") if f.is_file()]
    assert logs
    for f in logs:
        text = f.read_text(errors="replace")
        assert "PRIVATE KEY" not in text, f
        for s in secrets:
            assert s not in text, f"a password is in {f}"
    for args, out, err in sc.outputs:
        assert "PRIVATE KEY" not in out + err, args
        for s in secrets:
            assert s not in out + err, f"a password is in the output of `kpoc {args}`"
