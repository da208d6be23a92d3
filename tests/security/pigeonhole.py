"""Driving Dovecot Pigeonhole's `sieve-test` as the reference implementation of RFC 5228 tests.

`sieve-test` refuses to run as root ("Couldn't drop privileges"), so as root it
runs as `nobody` through `runuser`, with a private world-writable HOME (it
saves the compiled script beside the source and needs a mail location). A
minimal config (tests/security/sieve/sieve-test.conf) keeps the system's
Dovecot settings out of the comparison.

Scripts report through `vnd.dovecot.debug`: every `debug_log "X"` becomes a
stderr line `info: DEBUG: X.` that `run()` returns as `X`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "sieve" / "sieve-test.conf"
_DEBUG_PREFIX = "info: DEBUG: "
RUN_TIMEOUT_S = 60  # per message; a hang fails the test instead of stalling CI


class SieveTestError(RuntimeError):
    """sieve-test failed: the script did not compile or the tool could not run."""


class Pigeonhole:
    """One private workspace for many `sieve-test` runs."""

    def __init__(self, executable: str):
        self.executable = executable
        self.prefix = self._privilege_drop()
        # `nobody` must reach the workspace: under /tmp, not a private $TMPDIR, when dropping privileges.
        self.workdir = Path(tempfile.mkdtemp(prefix="ses-rules-sieve-", dir="/tmp" if self.prefix else None))
        self.workdir.chmod(0o777)
        self.config = self.workdir / "sieve-test.conf"
        self.config.write_text(CONFIG.read_text())
        self.config.chmod(0o644)

    @staticmethod
    def _privilege_drop() -> list[str]:
        if os.geteuid() != 0:
            return []
        runuser = shutil.which("runuser")
        if runuser is None:
            raise SieveTestError("running as root and `runuser` is missing: sieve-test refuses to run as root")
        return [runuser, "-u", "nobody", "--"]

    def run(self, script: str, message: bytes, name: str = "probe") -> list[str]:
        """Run `script` on `message`; the `debug_log` lines it wrote, in order."""
        script_path = self.workdir / f"{name}.sieve"
        mail_path = self.workdir / f"{name}.eml"
        script_path.write_text(script, encoding="utf-8")
        mail_path.write_bytes(message)
        for path in (script_path, mail_path):
            path.chmod(0o644)
        env = {"HOME": str(self.workdir), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        proc = subprocess.run(
            [*self.prefix, self.executable, "-c", str(self.config), str(script_path), str(mail_path)],
            capture_output=True, env=env, cwd=self.workdir, timeout=RUN_TIMEOUT_S,
        )
        stderr = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise SieveTestError(f"sieve-test exited {proc.returncode}:\n{stderr}")
        lines = []
        for line in stderr.split("\n"):  # not splitlines(): U+2028 and friends are data here
            if line.startswith(_DEBUG_PREFIX):
                text = line[len(_DEBUG_PREFIX):]
                lines.append(text[:-1] if text.endswith(".") else text)
        return lines

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
