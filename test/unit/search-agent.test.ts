import { describe, expect, it } from "vitest";
import { AGENT_ARMS, decide, INITIAL_DESIGN, learn, newAgentState, parseAgentState, restoreAgentState, rewardOf, type AgentState } from "../../src/search/agent.js";

const outcome = (over: Partial<Parameters<typeof rewardOf>[0]> = {}): Parameters<typeof rewardOf>[0] => ({
  strategy: "model",
  values: [1.0],
  before: [2.0],
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
    // the model's batches are the worst measured yet and it predicts badly; Halton's points keep improving
    for (let batch = 0; batch < 12; batch++) {
      const { strategy: arm, reason } = decide(state, 20);
      chosen.push(arm);
      reasons.push(reason);
      const improves = arm === "halton";
      state = learn(state, outcome({ strategy: arm, values: [improves ? 0.5 : 3], before: [1, 2], predicted: [arm === "model" ? 0 : 3] }));
    }
    expect(chosen[0]).toBe("model");
    expect(chosen.filter((arm) => arm === "halton").length).toBeGreaterThanOrEqual(10);
    expect(reasons[5]).toMatch(/^space filling \(Halton\): mean reward 0\.\d\d over [\d.]+ recent batches \(next: model 0\.\d\d\)$/);
  });

  it("stays with a model whose trials rank near the top although none sets a new best", () => {
    let state: AgentState = newAgentState();
    const chosen: string[] = [];
    for (let batch = 0; batch < 12; batch++) {
      const arm = decide(state, 20).strategy;
      chosen.push(arm);
      // better than four of the five earlier measurements, and predicted well
      state = learn(state, outcome({ strategy: arm, values: [1.5], before: [1, 2, 3, 4, 5], predicted: [1.5] }));
    }
    expect(chosen).toEqual(Array(12).fill("model"));
    expect(state.last).toEqual({ arm: "model", reward: expect.closeTo(0.7 * 0.8 + 0.3, 10), improvement: 0.8, accuracy: 1 });
  });

  it("explores: an arm never pulled is tried once the others have been (UCB)", () => {
    let state: AgentState = newAgentState();
    const seen = new Set<string>();
    for (let batch = 0; batch < 40; batch++) {
      const arm = decide(state, 20).strategy;
      seen.add(arm);
      state = learn(state, outcome({ strategy: arm, values: [1], before: [1] }));
    }
    expect([...seen].sort()).toEqual([...AGENT_ARMS].sort());
  });

  it("is deterministic given the state", () => {
    const state = learn(newAgentState(), outcome({ strategy: "random" }));
    expect(decide(state, 30)).toEqual(decide(structuredClone(state), 30));
  });
});

describe("rewards", () => {
  it("pays a trial's rank among the earlier measurements: 1 for a new best, the share it beats otherwise", () => {
    const before = [1, 2, 3, 4];
    expect(rewardOf(outcome({ values: [0.5], before })).improvement).toBe(1);
    expect(rewardOf(outcome({ values: [2.5], before })).improvement).toBe(0.5);
    expect(rewardOf(outcome({ values: [5], before })).improvement).toBe(0);
    // ties are not beaten; a batch earns its trials' mean
    expect(rewardOf(outcome({ values: [1], before })).improvement).toBe(0.75);
    expect(rewardOf(outcome({ values: [0.5, 5], before })).improvement).toBe(0.5);
    // the first measurements rank in the middle; a batch without a value earns nothing
    expect(rewardOf(outcome({ values: [7], before: [] })).improvement).toBe(0.5);
    expect(rewardOf(outcome({ values: [], before })).improvement).toBe(0);
  });

  it("credits an accurate model to the exploiting arms and an inaccurate one to the exploring arms", () => {
    const accurate = { values: [2.5], before: [2], predicted: [2.5] };
    const wrong = { values: [2.5], before: [2], predicted: [0.5] };
    expect(rewardOf(outcome({ strategy: "model", ...accurate })).reward).toBeCloseTo(0.3, 10);
    expect(rewardOf(outcome({ strategy: "model", ...wrong })).reward).toBe(0);
    expect(rewardOf(outcome({ strategy: "random", ...accurate })).reward).toBe(0);
    expect(rewardOf(outcome({ strategy: "random", ...wrong })).reward).toBeCloseTo(0.3, 10);
    expect(rewardOf(outcome({ strategy: "model", ...wrong })).accuracy).toBe(0);
  });

  it("decays old evidence and adds the new batch to the chosen arm only", () => {
    const before = newAgentState();
    const after = learn(before, outcome({ strategy: "halton", values: [0], before: [1] }));
    expect(after.batches).toBe(1);
    expect(after.arms.model.pulls).toBeCloseTo(before.arms.model.pulls * 0.95, 10);
    expect(after.arms.halton.pulls).toBeCloseTo(before.arms.halton.pulls * 0.95 + 1, 10);
    expect(after.last).toEqual({ arm: "halton", reward: 1, improvement: 1, accuracy: null });
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
    expect(parseAgentState(JSON.parse(JSON.stringify(state)))).toEqual({ version: 2, arms: state.arms, batches: 1 });
    expect(parseAgentState(null)).toBe("expected an object");
    expect(parseAgentState({ ...state, version: 9 })).toBe("version 9 is not 2");
    expect(parseAgentState({ ...state, batches: -1 })).toMatch(/^batches: /);
    expect(parseAgentState({ ...state, arms: { ...state.arms, model: { pulls: 1, reward: 5 } } })).toBe("arms.model: expected {pulls ≥ 0, 0 ≤ reward ≤ pulls}");
  });

  it("starts afresh from an earlier version's state with an info line, and from a damaged one with a warning", () => {
    // as version 1 stored it: four arms, history among them
    const v1 = {
      version: 1,
      arms: { model: { pulls: 3.1, reward: 1.9 }, history: { pulls: 2.2, reward: 1.1 }, halton: { pulls: 1.5, reward: 0.5 }, random: { pulls: 1.2, reward: 0.4 } },
      batches: 7,
    };
    const restored = restoreAgentState(v1);
    expect(restored.state).toEqual(newAgentState());
    expect(restored.info).toBe("search agent: the stored state is from version 1 (now 2: rewards by rank, three arms); it starts afresh");
    expect(restored.warning).toBeUndefined();

    const damaged = restoreAgentState({ version: 2, arms: {}, batches: 1 });
    expect(damaged.state).toEqual(newAgentState());
    expect(damaged.warning).toBe("stored search agent ignored (arms.model: expected {pulls ≥ 0, 0 ≤ reward ≤ pulls}); it starts afresh");
    expect(restoreAgentState({ version: 3, arms: {}, batches: 0 }).warning).toBe("stored search agent ignored (version 3 is not 2); it starts afresh");

    const kept = learn(newAgentState(), outcome());
    expect(restoreAgentState(JSON.parse(JSON.stringify(kept)))).toEqual({ state: { version: 2, arms: kept.arms, batches: 1 } });
    expect(restoreAgentState(undefined)).toEqual({ state: newAgentState() });
  });
});
