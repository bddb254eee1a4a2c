#!/usr/bin/env node
// Writes docs/api.md, the API reference, from the protos' own comments (buf
// builds an image with source info; nothing is fetched), so the reference
// cannot drift from the contract: the unit tests check it is current.
//   node scripts/generate-api-docs.mjs [output]   (default docs/api.md)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const output = process.argv[2] ?? "docs/api.md";
const scratch = mkdtempSync(path.join(tmpdir(), "sa-api-docs-"));
let image;
try {
  execFileSync("node_modules/.bin/buf", ["build", "proto", "-o", path.join(scratch, "image.json")], { stdio: "inherit" });
  image = JSON.parse(readFileSync(path.join(scratch, "image.json"), "utf8"));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// descriptor.proto field numbers: FileDescriptorProto.message_type = 4,
// enum_type = 5, service = 6; DescriptorProto.field = 2, nested_type = 3,
// enum_type = 4; EnumDescriptorProto.value = 2; ServiceDescriptorProto.method = 2.
const files = image.file.filter((file) => file.name.startsWith("sessionauthority/"));
const order = ["session_service", "token_service", "audit_service", "session", "token", "error_reason"];
files.sort((a, b) => order.indexOf(path.basename(a.name, ".proto")) - order.indexOf(path.basename(b.name, ".proto")));

function commentsOf(file) {
  const byPath = new Map();
  for (const location of file.sourceCodeInfo?.location ?? []) {
    if (location.leadingComments !== undefined) byPath.set(location.path.join("."), location.leadingComments);
  }
  return (...segments) => (byPath.get(segments.join(".")) ?? "").trim().replace(/\n ?/g, "\n");
}

const typeName = (field) => {
  const base = field.typeName !== undefined ? field.typeName.replace(/^\.sessionauthority\.v1\./, "").replace(/^\./, "") : field.type.replace(/^TYPE_/, "").toLowerCase();
  return field.label === "LABEL_REPEATED" ? `repeated ${base}` : base;
};
const anchor = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
// Our messages and enums link to their section; scalars and Google's types do not.
const link = (name) => {
  const [repeated, type] = name.startsWith("repeated ") ? ["repeated ", name.slice(9)] : ["", name];
  return /^[A-Z]/.test(type) ? `${repeated}[\`${type}\`](#${anchor(type)})` : `${repeated}\`${type}\``;
};
const cell = (text) => text.replace(/\|/g, "\\|").replace(/\n+/g, " ");

const out = [
  "# API reference",
  "",
  "Generated from `proto/` by `scripts/generate-api-docs.mjs` (`npm run generate`); do not edit.",
  "Package `sessionauthority.v1`. Errors: every failed call carries a `google.rpc.ErrorInfo` whose",
  "`reason` is an `ErrorReason` name; the README's Errors table says which are retryable.",
  "",
];
const services = files.flatMap((file) => (file.service ?? []).map((service, i) => ({ file, service, i })));
out.push("## Services", "");
for (const { service } of services) out.push(`- [${service.name}](#${anchor(service.name)}): ${service.method.map((method) => method.name).join(", ")}`);
out.push("");
for (const { file, service, i } of services) {
  const comment = commentsOf(file);
  out.push(`### ${service.name}`, "", comment(6, i), "");
  service.method.forEach((method, j) => {
    const input = method.inputType.replace(/^\.sessionauthority\.v1\./, "");
    const outputType = method.outputType.replace(/^\.sessionauthority\.v1\./, "");
    const stream = method.serverStreaming ? "stream " : "";
    out.push(`#### ${service.name}.${method.name}`, "", `\`rpc ${method.name}(${input}) returns (${stream}${outputType})\` · request ${link(input)} · response ${link(outputType)}`, "", comment(6, i, 2, j), "");
  });
}

out.push("## Messages", "");
function message(file, comment, descriptor, prefix, segments) {
  const name = `${prefix}${descriptor.name}`;
  out.push(`### ${name}`, "", comment(...segments), "");
  if ((descriptor.field ?? []).length > 0) {
    out.push("| field | type | description |", "|---|---|---|");
    descriptor.field.forEach((field, j) => out.push(`| \`${field.name}\` | ${link(typeName(field))} | ${cell(comment(...segments, 2, j))} |`));
    out.push("");
  }
  (descriptor.nestedType ?? []).forEach((nested, k) => message(file, comment, nested, `${name}.`, [...segments, 3, k]));
  (descriptor.enumType ?? []).forEach((nested, k) => enumeration(comment, nested, `${name}.`, [...segments, 4, k]));
}
function enumeration(comment, descriptor, prefix, segments) {
  out.push(`### ${prefix}${descriptor.name}`, "", comment(...segments), "", "| value | number | description |", "|---|---|---|");
  descriptor.value.forEach((value, j) => out.push(`| \`${value.name}\` | ${value.number} | ${cell(comment(...segments, 2, j))} |`));
  out.push("");
}
for (const file of files) {
  const comment = commentsOf(file);
  (file.messageType ?? []).forEach((descriptor, i) => message(file, comment, descriptor, "", [4, i]));
}
out.push("## Enums", "");
for (const file of files) {
  const comment = commentsOf(file);
  (file.enumType ?? []).forEach((descriptor, i) => enumeration(comment, descriptor, "", [5, i]));
}
writeFileSync(output, `${out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`);
