"""Helpers for integration tests: free ports, temp homes, cohortd processes."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import cohort_client as cc


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Node:
    """A cohortd on a temp home and a free port, driven like a user would."""

    def __init__(self, bindir, conf_overrides=None, keep=False, genesis_params=None):
        self.bin = bindir
        self.home = tempfile.mkdtemp(prefix="cohort_it_")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        self.proc = None
        self.keep = keep
        self.log_path = os.path.join(self.home, "cohortd.log")
        # p2p on an ephemeral port: tests run side by side (ctest -j), and
        # none may take the default 26656 from another.
        out = subprocess.run([self.exe("cohortd"), "init", "--home", self.home, "--rpc-listen",
                              "127.0.0.1:%d" % self.port, "--p2p-listen", "127.0.0.1:0"],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        self.init_output = out.stdout
        if genesis_params:  # chain parameters for this test (genesis/params.h names)
            gp = os.path.join(self.home, "config", "genesis.json")
            g = json.load(open(gp))
            g["params"].update(genesis_params)
            json.dump(g, open(gp, "w"), indent=2)
        conf = os.path.join(self.home, "cohortd.conf")
        text = open(conf).read()
        for (k, v) in (conf_overrides or {}).items():
            lines = [ln for ln in text.splitlines() if not ln.startswith(k + " =")]
            # put the key back in its section
            sec = {"block_interval_ms": "[consensus]", "empty_block_interval_ms": "[consensus]",
                   "timeout_propose_ms": "[consensus]", "timeout_vote_ms": "[consensus]",
                   "max_txs": "[mempool]", "max_bytes": "[mempool]", "log_level": "[node]",
                   "moniker": "[node]"}.get(k, "[rpc]")
            i = lines.index(sec)
            lines.insert(i + 1, "%s = %s" % (k, v))
            text = "\n".join(lines) + "\n"
        open(conf, "w").write(text)
        self.dev_key = os.path.join(self.home, "keys", "dev.json")
        self.dev_sec = cc.load_key(self.dev_key)
        self.dev_addr = cc.address(cc.schnorr_pubkey(self.dev_sec))

    def exe(self, name):
        return os.path.join(self.bin, name)

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.exe("cohortd"), "start", "--home", self.home],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("cohortd exited at start:\n" + self.tail())
            try:
                cc.rpc(self.url, "health", timeout=2)
                return
            except Exception:
                time.sleep(0.05)
        raise AssertionError("cohortd did not answer within 20 s:\n" + self.tail())

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise AssertionError("cohortd did not stop within 20 s of SIGTERM")
            self.log.close()
            return rc
        return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=30):
        try:
            return "".join(open(self.log_path, errors="replace").readlines()[-n:])
        except OSError:
            return ""

    def rpc(self, method, params=None, timeout=60):
        return cc.rpc(self.url, method, params, timeout)

    def cli(self, *args, check=True):
        out = subprocess.run([self.exe("cohort"), "--node", self.url, "--home", self.home] +
                             list(args), capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            raise AssertionError("cohort %s failed (%d): %s" % (" ".join(args), out.returncode,
                                                                  out.stderr))
        return out

    def cli_json(self, *args):
        return json.loads(self.cli("--json", *args).stdout)

    def cleanup(self):
        try:
            self.stop()
        except Exception:
            pass
        if not self.keep:
            shutil.rmtree(self.home, ignore_errors=True)


def run_tests(tests):
    """Run test functions in order; print a closing 'N passed, N failed'."""
    passed = failed = 0
    for t in tests:
        t0 = time.time()
        try:
            t()
            passed += 1
            print("PASS %s (%.1f s)" % (t.__name__, time.time() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
