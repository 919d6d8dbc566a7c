"""Plan one PlanBench Blocksworld task with the embedded model and print what it cost.

Run: python examples/quickstart.py
"""

from aip_sdk import Planner
from aip_sdk.envs.suite import load_suite

suite = load_suite("blocksworld")
env = suite.make("2", split="basic_3")
planner = Planner.default(controller="ac:threshold=0.95,max=8,depth=0")
result = planner.plan(env, max_steps=12, seed=0)
for step in result.steps:
    print(f"{step.index + 1}. {step.action}  (k={step.decision.k}, votes={step.votes})")
print("success:", result.success, "| quality:", round(result.quality, 2))
print("cost:", result.cost)
planner.close()
