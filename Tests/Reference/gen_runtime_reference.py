"""References for the runtime's action contract (VLARuntime ActionProcessor).

    .venv/bin/python Tests/Reference/gen_runtime_reference.py

Images: see gen_preprocess_reference.py (TensorFlow itself).

Actions: random raw chunks [4, 7] through squash 5*tanh(x/5), gripper logit >= 0, mean/std unnormalize where
mask, SimplerEnv's ActionEnsembler (uniform weights over the last `window` chunks), transforms3d's
euler2axangle (static xyz), and SimplerEnv's gripper conventions (google_robot relative + sticky repeat 15,
widowx 2*(g>0.5)-1, libero 2g-1). Writes Tests/Fixtures/VLARuntime/actions.json.
"""
import collections
import json
import os

import numpy as np
from transforms3d.euler import euler2axangle

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "VLARuntime")


def actions():
    rng = np.random.default_rng(7)
    mean = np.array([0.006, -0.002, 0.004, -0.01, 0.02, 0.003, 0.5])
    std = np.array([0.07, 0.06, 0.05, 0.12, 0.1, 0.15, 0.5])
    mask = np.array([True] * 6 + [False])
    cases = []
    for robot, window, ensembling in [("google_robot", 4, "uniform"), ("widowx_bridge", 4, "uniform"),
                                      ("libero", 2, "uniform"), ("none", 1, "none"), ("google_robot", 3, "uniform")]:
        steps = 40
        raws = (rng.standard_normal((steps, 4, 7)) * 3).astype(np.float32)
        # Long runs of one gripper sign, so the sticky repeat triggers and expires.
        sign = np.where((np.arange(steps) // 9) % 2 == 0, 1.0, -1.0).astype(np.float32)
        raws[:, :, 6] = np.abs(raws[:, :, 6]) * sign[:, None]
        raws[5, :, 6] = -raws[5, :, 6]
        history = collections.deque(maxlen=window)
        prev, sticky_on, sticky_val, repeat = None, False, 0.0, 0
        expected_chunks, expected = [], []
        for raw in raws:
            a = raw.astype(np.float32).copy()
            a[:, :6] = np.float32(5) * np.tanh(a[:, :6] / np.float32(5))
            a[:, 6] = (a[:, 6] >= 0).astype(np.float32)
            a = np.where(mask, a * std.astype(np.float32) + mean.astype(np.float32), a).astype(np.float32)
            expected_chunks.append(a.astype(np.float64).tolist())
            history.append(a.astype(np.float64))
            n = len(history)
            if ensembling == "uniform":
                preds = np.stack([c[i] for i, c in zip(range(n - 1, -1, -1), history)])
                act = (np.ones(n) / n)[:, None] * preds
                act = act.sum(0)
            else:
                act = a[0].astype(np.float64)
            ax, angle = euler2axangle(act[3], act[4], act[5])
            rot = ax * angle
            g = act[6]
            if robot == "google_robot":
                rel = 0.0 if prev is None else prev - g
                prev = g
                if abs(rel) > 0.5 and not sticky_on:
                    sticky_on, sticky_val = True, rel
                if sticky_on:
                    repeat += 1
                    rel = sticky_val
                if repeat == 15:
                    sticky_on, repeat, sticky_val = False, 0, 0.0
                g = rel
            elif robot == "widowx_bridge":
                g = 2.0 * (g > 0.5) - 1.0
            elif robot == "libero":
                g = 2.0 * g - 1.0
            expected.append([*act[:3].tolist(), *rot.tolist(), float(g)])
        cases.append({"robot": robot, "window": window, "ensembling": ensembling,
                      "mean": mean.tolist(), "std": std.tolist(), "mask": mask.tolist(),
                      "raw": raws.reshape(steps, -1).astype(np.float64).tolist(),
                      "chunks": [np.array(c).reshape(-1).tolist() for c in expected_chunks],
                      "actions": expected})
    # Euler edge cases for the rotation alone.
    eulers = [[0, 0, 0], [1e-9, 0, 0], [np.pi, 0, 0], [0.3, -0.2, 0.1], [-3.0, 1.5, 2.9], [0, np.pi / 2, 0],
              [1e-17, 1e-17, 0], [2.5, -1.2, -0.7]]
    euler = [{"euler": e, "axangle": (lambda r: (r[0] * r[1]).tolist())(euler2axangle(*e))} for e in eulers]
    with open(os.path.join(OUT, "actions.json"), "w") as f:
        json.dump({"cases": cases, "euler": euler}, f)


if __name__ == "__main__":
    actions()
