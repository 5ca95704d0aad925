/** Python WSGI services on Gunicorn: workers, threads and worker class, through GUNICORN_CMD_ARGS. */
import type { CategoryCatalog } from "./types.js";

export const pythonWsgi: CategoryCatalog = {
  category: "python-wsgi",
  title: "Python WSGI services on Gunicorn",
  knobs: [
    {
      name: "workers",
      type: "int",
      min: 1,
      max: 32,
      scale: "log",
      apply: { kind: "env", name: "GUNICORN_CMD_ARGS", template: "--workers={value}", append: true },
      doc: "worker processes handling requests (Gunicorn docs, Settings: workers)",
      default: 1,
    },
    {
      name: "threads",
      type: "int",
      min: 1,
      max: 32,
      scale: "log",
      apply: { kind: "env", name: "GUNICORN_CMD_ARGS", template: "--threads={value}", append: true },
      doc: "threads per worker; only the gthread worker uses them (Gunicorn docs, Settings: threads)",
      default: 1,
    },
    {
      name: "worker_class",
      type: "enum",
      values: ["sync", "gthread", "gevent"],
      apply: { kind: "env", name: "GUNICORN_CMD_ARGS", template: "--worker-class={value}", append: true },
      doc: "the worker type; gevent needs the gevent package installed (Gunicorn docs, Settings: worker_class)",
      default: "sync",
    },
  ],
  // Gunicorn runs sync with threads > 1 as gthread, and gevent ignores threads: both duplicate other configurations
  constraints: ["threads == 1 or worker_class == 'gthread'"],
};
