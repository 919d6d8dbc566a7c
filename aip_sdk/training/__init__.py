"""Training the meta-controller: trace collection, gymnasium wrappers, PPO and ONNX export.

``collect`` needs only the SDK and the suites; the replay and live environments need gymnasium;
``train`` and ``export`` need the ``train`` extra (stable-baselines3, torch, onnx).
"""
