// Module resolution hook: maps node:sqlite to sqlite-stub.mjs when the runtime has none (Node < 22.5).
import { isBuiltin } from "node:module";

const hasSqlite = isBuiltin("node:sqlite");

export async function resolve(specifier, context, next) {
  if (specifier === "node:sqlite" && !hasSqlite) {
    return { url: new URL("./sqlite-stub.mjs", import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
