// The resolve hook node_path_imports.mjs registers: a bare specifier node cannot find from the
// importing file is looked for from each NODE_PATH directory in turn.
import path from "node:path";
import { pathToFileURL } from "node:url";

const DIRS = (process.env.NODE_PATH || "").split(path.delimiter).filter(Boolean);

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const bare = !specifier.startsWith(".") && !specifier.startsWith("/") && !specifier.includes(":");
    if (!bare || err.code !== "ERR_MODULE_NOT_FOUND") throw err;
    for (const dir of DIRS) {
      try {
        return await nextResolve(specifier, { ...context, parentURL: pathToFileURL(path.join(dir, "..", "x.mjs")).href });
      } catch (again) {
        if (again.code !== "ERR_MODULE_NOT_FOUND") throw again;
      }
    }
    throw err;
  }
}
