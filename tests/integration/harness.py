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
        out = subprocess.run([self.exe("cohortd"), "init", "--home", self.home, "--rpc-listen",
                              "127.0.0.1:%d" % self.port], capture_output=True, text=True)
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
        # a chain of one by default: peers listen on a free port, so that
        # tests running side by side never collide
        self.p2p_port = free_port()
        self.set_conf("p2p", "listen", "127.0.0.1:%d" % self.p2p_port)
        self.dev_key = os.path.join(self.home, "keys", "dev.json")
        self.dev_sec = cc.load_key(self.dev_key)
        self.dev_addr = cc.address(cc.schnorr_pubkey(self.dev_sec))

    def set_conf(self, section, key, value):
        """Set `key = value` in [section] of cohortd.conf (replacing it there)."""
        conf = os.path.join(self.home, "cohortd.conf")
        lines = open(conf).read().splitlines()
        i = lines.index("[%s]" % section)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("["):
            if lines[j].split("=")[0].strip() == key:
                del lines[j]
                continue
            j += 1
        lines.insert(i + 1, "%s = %s" % (key, value))
        open(conf, "w").write("\n".join(lines) + "\n")

    def node_id(self):
        import hashlib
        pub = bytes.fromhex(json.load(open(os.path.join(self.home, "config", "node_key.json")))["public"])
        return hashlib.sha256(pub).hexdigest()[:40]

    def exe(self, name):
        return os.path.join(self.bin, name)

    def start(self, may_die=False):
        """Start cohortd and wait for its RPC. may_die: a process that dies
        before it answers is no error (a fault-injection run that reaches its
        point at once)."""
        self.log = open(self.log_path, "ab")
        self.log_start = self.log.tell()
        env = dict(os.environ)
        env.update(getattr(self, "env", {}))
        self.proc = subprocess.Popen(getattr(self, "prefix", []) +
                                     [self.exe(getattr(self, "binary", "cohortd")), "start",
                                      "--home", self.home],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if may_die:
                    return
                raise AssertionError("cohortd exited at start (exit status %s); it printed:\n%s"
                                     "--- the log before this start:\n%s" % (
                                         self.proc.returncode, self.since_start(), self.tail()))
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

    def since_start(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(getattr(self, "log_start", 0))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

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


def make_testnet(bindir, count, conf_overrides=None, genesis_params=None, keep=False,
                 hosts=None):
    """`count` validators of one chain: each home from `cohortd init`, one
    genesis listing every validator with equal power, and every node's
    persistent_peers naming all the others. hosts: the IP each node listens
    on (RPC and p2p; default loopback). Returns the Nodes (not started)."""
    nodes = [Node(bindir, conf_overrides, keep=keep, genesis_params=genesis_params)
             for _ in range(count)]
    for i, nd in enumerate(nodes):
        nd.host = hosts[i] if hosts else "127.0.0.1"
        if hosts:
            nd.set_conf("rpc", "listen", "%s:%d" % (nd.host, nd.port))
            nd.set_conf("p2p", "listen", "%s:%d" % (nd.host, nd.p2p_port))
            nd.url = "http://%s:%d/" % (nd.host, nd.port)
    g0 = json.load(open(os.path.join(nodes[0].home, "config", "genesis.json")))
    vals = []
    for i, nd in enumerate(nodes):
        g = json.load(open(os.path.join(nd.home, "config", "genesis.json")))
        v = g["validators"][0]
        v["moniker"] = "node%d" % i
        v["power"] = "100000000000"
        vals.append(v)
    g0["validators"] = vals
    for i, nd in enumerate(nodes):
        json.dump(g0, open(os.path.join(nd.home, "config", "genesis.json"), "w"), indent=2)
        # node0's dev key is the funded account: give it to every home
        if nd is not nodes[0]:
            shutil.copy(nodes[0].dev_key, nd.dev_key)
        nd.dev_sec = nodes[0].dev_sec
        nd.dev_addr = nodes[0].dev_addr
        peers = ",".join("%s@%s:%d" % (o.node_id(), o.host, o.p2p_port)
                         for o in nodes if o is not nd)
        nd.set_conf("p2p", "persistent_peers", peers)
        nd.set_conf("node", "moniker", "node%d" % i)
        nd.moniker = "node%d" % i
    return nodes
