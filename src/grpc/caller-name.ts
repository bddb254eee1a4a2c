/**
 * A name taken from a certificate or a forwarded header, if it can be one:
 * printable ASCII (it travels in metadata and logs), bounded, and a CN never
 * shaped like a URI, so a certificate whose CN reads `spiffe://…` cannot pass
 * for the workload (or the trusted sidecar) that SPIFFE ID names.
 */
export function callerName(value: string | undefined, source: "uri" | "cn"): string | undefined {
  if (value === undefined || value.length === 0 || value.length > 512 || !/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value)) return undefined;
  if (source === "cn" && value.includes("://")) return undefined;
  return value;
}
