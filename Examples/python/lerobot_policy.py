"""A compiled vlac policy behind the `select_action(observation) -> action` shape of lerobot-style loops.

    python Examples/python/lerobot_policy.py POLICY.vla [--shared DIR] [--steps N]

`VLAPolicy` is what an evaluation loop (lerobot's `record`/`eval`, SimplerEnv, LIBERO) calls: `reset()` at the
start of an episode, then `select_action(observation)` once per control step. The first observation of an
episode also resets the session (the policy's reset program reads the first frame). Observations are dicts in
lerobot's convention: an image under "observation.image" or "observation.images.<camera>", either an
H x W x 3 (or 4) uint8 array as cameras give it, or a 3 x H x W float array in [0, 1] as lerobot's datasets
give it (converted back to uint8 here; torch tensors work through `numpy()`). The episode below runs on a
synthetic moving scene in place of a camera.
"""

import argparse
import sys

import numpy as np

import vlart


class VLAPolicy:
    """One camera, one session: `reset()` per episode, `select_action(observation)` per step."""

    def __init__(self, policy_path, shared=(), camera=None, threads=1):
        self.policy = vlart.Policy(policy_path, shared=shared)
        self.policy.self_test()
        self.session = vlart.Session(self.policy, threads=threads)
        self.camera = camera
        self._new_episode = True

    def reset(self):
        """Starts a new episode: the next observation resets the session."""
        self._new_episode = True

    def _frame(self, observation):
        if self.camera is not None:
            image = observation[f"observation.images.{self.camera}"]
        elif "observation.image" in observation:
            image = observation["observation.image"]
        else:
            keys = sorted(k for k in observation if k.startswith("observation.images."))
            if not keys:
                raise KeyError("no image in the observation (observation.image or observation.images.<camera>)")
            image = observation[keys[0]]
        if hasattr(image, "numpy"):  # a torch tensor
            image = image.detach().cpu().numpy()
        image = np.asarray(image)
        if image.dtype != np.uint8:
            # lerobot's channel-first float images in [0, 1]
            if image.ndim == 4 and image.shape[0] == 1:
                image = image[0]
            if image.ndim == 3 and image.shape[0] in (3, 4):
                image = np.moveaxis(image, 0, -1)
            image = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
        return image

    def select_action(self, observation):
        """The action for this observation: float32, `policy.info.action_dim` values."""
        frame = self._frame(observation)
        if self._new_episode:
            self.session.reset(frame)
            self._new_episode = False
        return self.session.step(frame)

    def close(self):
        self.session.close()
        self.policy.close()


def synthetic_camera(t, height=256, width=320):
    """A textured table with a red block drifting across it, standing in for a camera frame."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.empty((height, width, 3), np.uint8)
    frame[..., 0] = 120 + (x // 16 + y // 16) % 2 * 30
    frame[..., 1] = 100 + (y * 60 // height)
    frame[..., 2] = 80
    cx, cy = 60 + 12 * t, 140
    block = (abs(x - cx) < 18) & (abs(y - cy) < 18)
    frame[block] = (200, 30, 30)
    return frame


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy")
    parser.add_argument("--shared", action="append", default=[])
    parser.add_argument("--steps", type=int, default=8)
    arguments = parser.parse_args(argv)
    agent = VLAPolicy(arguments.policy, shared=arguments.shared)
    print(f"{arguments.policy}: {agent.policy.info}")
    try:
        for episode in range(2):
            agent.reset()
            for t in range(arguments.steps):
                frame = synthetic_camera(t)
                if episode == 1:  # the second episode feeds lerobot's channel-first float images
                    frame = frame.transpose(2, 0, 1).astype(np.float32) / 255.0
                action = agent.select_action({"observation.images.front": frame, "observation.state": np.zeros(8)})
                print(f"episode {episode} step {t}: " + " ".join(f"{v:+.4f}" for v in action))
    except vlart.Error as error:
        print(f"vlart: {error}", file=sys.stderr)
        return 1
    finally:
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
