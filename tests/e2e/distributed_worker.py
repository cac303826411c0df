"""The command line as one process of a distributed run (torchrun's entry script in the tests), recording what
the tests check: every SQLite connection the process opens, every optimiser step it takes and a hash of the
parameters that step left (the same on every rank when DDP keeps them in step). The run itself is the product's
own; nothing in it is replaced."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
from pathlib import Path

from torch.optim.optimizer import register_optimizer_step_post_hook

RECORD = {"rank": int(os.environ["RANK"]), "connections": [], "steps": 0, "parameters": ""}
_connect = sqlite3.connect


def _recorded_connect(database: object, *args: object, **kwargs: object) -> sqlite3.Connection:
    RECORD["connections"].append(str(database))
    return _connect(database, *args, **kwargs)


def _count_step(optimizer: object, args: object, kwargs: object) -> None:
    RECORD["steps"] += 1
    digest = hashlib.sha256()
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            digest.update(parameter.detach().cpu().numpy().tobytes())
    RECORD["parameters"] = digest.hexdigest()


if __name__ == "__main__":
    sqlite3.connect = _recorded_connect
    register_optimizer_step_post_hook(_count_step)
    from dmtl_studio.__main__ import main

    try:
        status = main(sys.argv[1:])
    finally:
        folder = Path(os.environ["DMTL_TEST_RECORD"])
        (folder / f"rank{RECORD['rank']}.json").write_text(json.dumps(RECORD))
    sys.exit(status)
