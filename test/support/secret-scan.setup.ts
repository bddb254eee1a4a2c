import { afterAll, expect } from "vitest";
import { leakedSecrets } from "./secret-scan.js";

// After every test file: no token, API key or KEK the file used appears in
// any log line its services wrote.
afterAll(() => {
  expect(leakedSecrets()).toEqual([]);
});
