/**
 * nginx: worker processes and connections, keep-alive and gzip. `nginx -g` sets only main-context
 * directives and honours a single -g, so the knobs are applied through one rendered nginx.conf.
 */
import type { ApplyHow } from "../core/types.js";
import type { CategoryCatalog } from "./types.js";

/**
 * The official nginx image's /etc/nginx/nginx.conf with the catalog's directives as placeholders;
 * the sites in /etc/nginx/conf.d/ are included as before.
 */
export const NGINX_CONF_TEMPLATE = `# Rendered by Shadowgate from the nginx catalog's template (the official image's nginx.conf).
user  nginx;
worker_processes  {{worker_processes}};

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;

events {
    worker_connections  {{worker_connections}};
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;

    keepalive_timeout  {{keepalive_timeout}};

    gzip  {{gzip}};
    gzip_comp_level  {{gzip_comp_level}};

    include /etc/nginx/conf.d/*.conf;
}
`;

const nginxConf: ApplyHow = { kind: "template", path: "/etc/nginx/nginx.conf", content: NGINX_CONF_TEMPLATE };

export const nginx: CategoryCatalog = {
  category: "nginx",
  title: "nginx (the official image's layout)",
  knobs: [
    {
      name: "worker_processes",
      type: "int",
      min: 1,
      max: 16,
      scale: "log",
      apply: nginxConf,
      doc: "worker processes; each serves many connections (nginx docs, Core functionality: worker_processes)",
      default: 1,
    },
    {
      name: "worker_connections",
      type: "int",
      min: 64,
      max: 16384,
      scale: "log",
      apply: nginxConf,
      doc: "simultaneous connections per worker, upstream ones included (nginx docs, Core functionality: worker_connections)",
      default: 512,
    },
    {
      name: "keepalive_timeout",
      type: "int",
      min: 0,
      max: 120,
      scale: "linear",
      apply: nginxConf,
      doc: "seconds an idle keep-alive client connection stays open; 0 disables keep-alive (nginx docs, ngx_http_core_module: keepalive_timeout)",
      default: 75,
    },
    {
      name: "gzip",
      type: "enum",
      values: ["off", "on"],
      apply: nginxConf,
      doc: "gzip-compress responses of the gzip_types (nginx docs, ngx_http_gzip_module: gzip)",
      default: "off",
    },
    {
      name: "gzip_comp_level",
      type: "int",
      min: 1,
      max: 9,
      scale: "linear",
      apply: nginxConf,
      doc: "gzip compression level, 1 (fastest) to 9 (smallest) (nginx docs, ngx_http_gzip_module: gzip_comp_level)",
      default: 1,
    },
  ],
  // with gzip off the level does nothing: one level stands for all
  constraints: ["gzip == 'on' or gzip_comp_level == 1"],
};
