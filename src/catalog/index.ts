/**
 * The catalogs by workload category. `generic` (the default) has only the CPU quota and memory
 * limit, which every category adds after its own knobs.
 */
import { goHttp } from "./go-http.js";
import { jvm } from "./jvm.js";
import { nginx } from "./nginx.js";
import { nodeHttp } from "./node-http.js";
import { pythonWsgi } from "./python-wsgi.js";
import { resourceKnobs, type ResourceContext } from "./resources.js";
import type { CategoryCatalog } from "./types.js";

export type { CatalogKnob, CategoryCatalog } from "./types.js";
export { NGINX_CONF_TEMPLATE } from "./nginx.js";

const generic: CategoryCatalog = { category: "generic", title: "any service: CPU quota and memory limit only", knobs: [], constraints: [] };

export const CATALOGS: Readonly<Record<string, CategoryCatalog>> = Object.fromEntries(
  [generic, nodeHttp, jvm, goHttp, nginx, pythonWsgi].map((catalog) => [catalog.category, catalog]),
);

export const CATEGORY_NAMES: readonly string[] = Object.keys(CATALOGS);

/** A category's full catalog, its knobs followed by cpus and memory; undefined for an unknown category. */
export function catalogFor(category: string, resources: ResourceContext): CategoryCatalog | undefined {
  const catalog = Object.hasOwn(CATALOGS, category) ? CATALOGS[category] : undefined;
  if (!catalog) return undefined;
  return { ...catalog, knobs: [...catalog.knobs, ...resourceKnobs(resources)] };
}
