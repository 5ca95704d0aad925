/**
 * A workload category's catalog: the documented knobs Shadowgate knows how to set, so a config
 * can search them by name (`use: NAME`) or all at once (no `parameters`).
 */
import type { ParamValue, ParameterSpec } from "../core/types.js";

/** A parameter of a catalog: its spec, what it does, and its value when nobody sets it. */
export type CatalogKnob = ParameterSpec & {
  /** one line: what it does, and the official documentation it comes from */
  doc: string;
  /**
   * The value in effect when the knob is not set (the software's documented default); the
   * `current` configuration falls back to it. Absent when it depends on the machine.
   */
  default?: ParamValue;
};

export interface CategoryCatalog {
  category: string;
  /** what the category covers, one line */
  title: string;
  knobs: CatalogKnob[];
  /**
   * Rules that rule out configurations equivalent to others (so no trial is spent twice on
   * the same behaviour); each applies when every parameter it names is searched.
   */
  constraints: string[];
}
