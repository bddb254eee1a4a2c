// tsc compiles only TypeScript; the descriptor set that reflection serves is
// read at run time beside the compiled code.
import { copyFileSync, mkdirSync } from "node:fs";

mkdirSync("dist/src/generated/proto", { recursive: true });
copyFileSync("src/generated/proto/descriptor-set.binpb", "dist/src/generated/proto/descriptor-set.binpb");
