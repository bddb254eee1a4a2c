// `buf breaking` against the last released contract: the image committed as
// contract/released.binpb (`npm run contract:release`). Clients in Go, Python
// and Java are generated from these protos, so a released field or RPC never
// changes meaning. Files listed in contract/unreleased.txt are still being
// shaped (their RPCs answer UNIMPLEMENTED): they are left out of both the
// release image and the check until they are released.
//
//   node scripts/buf-breaking.mjs            check the working tree
//   node scripts/buf-breaking.mjs --release  write the release image
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const image = "contract/released.binpb";
const unreleased = readFileSync("contract/unreleased.txt", "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith("#"));
const excludes = unreleased.flatMap((file) => ["--exclude-path", file]);
const buf = (args) => execFileSync("node_modules/.bin/buf", args, { stdio: "inherit" });

try {
  if (process.argv.includes("--release")) {
    buf(["build", "proto", ...excludes, "-o", image]);
    console.log(`wrote ${image}`);
  } else {
    if (!existsSync(image)) throw new Error(`${image} is missing: run \`npm run contract:release\` when cutting a release`);
    buf(["breaking", "proto", "--against", image, ...excludes]);
    console.log(`buf breaking: no breaking change against ${image} (not released yet: ${unreleased.join(", ") || "none"})`);
  }
} catch (error) {
  console.error(`buf breaking: ${error.status === undefined ? error.message : "the contract breaks the released one (see above)"}`);
  process.exit(1);
}
