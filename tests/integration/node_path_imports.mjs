// node --import ./tests/integration/node_path_imports.mjs: lets ES modules find bare imports
// ("better-auth", "twilio") in the NODE_PATH directories too, as CommonJS's require does (ESM
// ignores NODE_PATH). The modules are run unchanged; only where node looks for packages changes.
import { register } from "node:module";

register("./node_path_resolve.mjs", import.meta.url);
