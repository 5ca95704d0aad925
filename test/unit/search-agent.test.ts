import { describe, expect, it } from "vitest";
import { AGENT_ARMS, decide, INITIAL_DESIGN, learn, newAgentState, parseAgentState, rewardOf, type AgentState } from "../../src/search/agent.js";

const outcome = (over: Partial<Parameters<typeof rewardOf>[0]> = {}): Parameters<typeof rewardOf>[0] => ({
  strategy: "model",
  values: [1.0],
  bestBefore: 2.0,
  scale: 1,
  ...over,
});

describe("the agent's decision", () => {
  it("fills the space first: a Latin hypercube until enough distinct measurements", () => {
    const state = newAgentState();
    const needed = INITIAL_DESIGN;
    expect(decide(state, needed - 1).strategy).toBe("lhs");
    expect(decide(state, needed - 1).reason).toMatch(new RegExp(`${needed - 1} of ${needed} measurements`));
    expect(decide(state, needed).strategy).toBe("model");
    expect(decide(state, needed).reason).toMatch(/prior/);
  });

  it("moves away from an arm that stops paying and says why in one line", () => {
    let state: AgentState = newAgentState();
    const chosen: string[] = [];
    const reasons: string[] = [];
    // the model's batches never improve and it predicts badly; neighbours of the best keep improving
    for (let batch = 0; batch < 12; batch++) {
      const { strategy: arm, reason } = decide(state, 20);
      chosen.push(arm);
      reasons.push(reason);
      const improves = arm === "history";
      state = learn(state, outcome({ strategy: arm, values: [improves ? 0.5 : 3], bestBefore: 1, predicted: [arm === "model" ? 0 : 3] }));
    }
    expect(chosen[0]).toBe("model");
    expect(chosen.filter((arm) => arm === "history").length).toBeGreaterThanOrEqual(10);
    expect(reasons[5]).toMatch(/^neighbours of the best so far: mean reward 0\.\d\d over [\d.]+ recent batches \(next: model 0\.\d\d\)$/);
  });

  it("explores: an arm never pulled is tried once the others have been (UCB)", () => {
    let state: AgentState = newAgentState();
    const seen = new Set<string>();
    for (let batch = 0; batch < 40; batch++) {
      const arm = decide(state, 20).strategy;
      seen.add(arm);
      state = learn(state, outcome({ strategy: arm, values: [1], bestBefore: 1 }));
    }
    expect([...seen].sort()).toEqual([...AGENT_ARMS].sort());
  });

  it("is deterministic given the state", () => {
    const state = learn(newAgentState(), outcome({ strategy: "random" }));
    expect(decide(state, 30)).toEqual(decide(structuredClone(state), 30));
  });
});

describe("rewards", () => {
  it("pays for a new best, more for a bigger gain, nothing otherwise", () => {
    expect(rewardOf(outcome({ values: [2.5], bestBefore: 2 })).improvement).toBe(0);
    expect(rewardOf(outcome({ values: [1.9], bestBefore: 2 })).improvement).toBeCloseTo(0.6, 10);
    expect(rewardOf(outcome({ values: [0], bestBefore: 2 })).improvement).toBe(1);
    expect(rewardOf(outcome({ bestBefore: Infinity })).improvement).toBe(0.5);
  });

  it("credits an accurate model to the exploiting arms and an inaccurate one to the exploring arms", () => {
    const accurate = { values: [2.5], bestBefore: 2, predicted: [2.5] };
    const wrong = { values: [2.5], bestBefore: 2, predicted: [0.5] };
    expect(rewardOf(outcome({ strategy: "model", ...accurate })).reward).toBeCloseTo(0.3, 10);
    expect(rewardOf(outcome({ strategy: "model", ...wrong })).reward).toBe(0);
    expect(rewardOf(outcome({ strategy: "random", ...accurate })).reward).toBe(0);
    expect(rewardOf(outcome({ strategy: "random", ...wrong })).reward).toBeCloseTo(0.3, 10);
    expect(rewardOf(outcome({ strategy: "model", ...wrong })).accuracy).toBe(0);
  });

  it("decays old evidence and adds the new batch to the chosen arm only", () => {
    const before = newAgentState();
    const after = learn(before, outcome({ strategy: "history", values: [0], bestBefore: 1 }));
    expect(after.batches).toBe(1);
    expect(after.arms.model.pulls).toBeCloseTo(before.arms.model.pulls * 0.95, 10);
    expect(after.arms.history.pulls).toBeCloseTo(before.arms.history.pulls * 0.95 + 1, 10);
    expect(after.last).toEqual({ arm: "history", reward: 1, improvement: 1, accuracy: null });
    // the initial design (lhs) is not an arm: it is counted, and the evidence stays as it was
    const afterDesign = learn(before, outcome({ strategy: "lhs" }));
    expect(afterDesign.last).toBeUndefined();
    expect(afterDesign.arms).toEqual(before.arms);
    expect(afterDesign.batches).toBe(1);
  });
});

describe("the stored state", () => {
  it("round-trips through JSON and rejects damaged documents with the reason", () => {
    const state = learn(newAgentState(), outcome());
    expect(parseAgentState(JSON.parse(JSON.stringify(state)))).toEqual({ version: 1, arms: state.arms, batches: 1 });
    expect(parseAgentState(null)).toBe("expected an object");
    expect(parseAgentState({ ...state, version: 9 })).toBe("version 9 is not 1");
    expect(parseAgentState({ ...state, batches: -1 })).toMatch(/^batches: /);
    expect(parseAgentState({ ...state, arms: { ...state.arms, model: { pulls: 1, reward: 5 } } })).toBe("arms.model: expected {pulls ≥ 0, 0 ≤ reward ≤ pulls}");
  });
});
