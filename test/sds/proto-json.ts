import protobuf from 'protobufjs';

/**
 * Converts the proto3 JSON mapping (what Envoy's YAML is) into protobufjs message
 * objects, failing on any unknown field, bad enum, wrong shape or unknown @type,
 * so a typo in an example config fails a test. Covers the well-known types the
 * examples use (Any, Duration, wrappers); anything else is refused, not ignored.
 */
export function fromProtoJson(type: protobuf.Type, json: unknown, path = type.name): Record<string, unknown> {
  const fail = (why: string): never => {
    throw new Error(`${path}: ${why}`);
  };
  switch (type.fullName) {
    case '.google.protobuf.Any':
      return anyFromJson(type.root as protobuf.Root, json, path);
    case '.google.protobuf.Duration': {
      const m = typeof json === 'string' ? /^(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
      if (!m) fail(`expected a duration like "1.5s", got ${JSON.stringify(json)}`);
      return { seconds: Number(m![1]), nanos: Number((m![2] ?? '').padEnd(9, '0')) };
    }
    case '.google.protobuf.Struct':
    case '.google.protobuf.Value':
    case '.google.protobuf.Timestamp':
    case '.google.protobuf.FieldMask':
      return fail(`${type.fullName} is not supported by this checker`);
  }
  if (type.fullName.startsWith('.google.protobuf.') && type.fullName.endsWith('Value')) {
    return { value: scalar(type.fields.value!, json, `${path}.value`) };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(`expected an object for ${type.fullName}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const field = type.fields[key] ?? Object.values(type.fields).find((f) => f.jsonName === key);
    const at = `${path}.${key}`;
    if (!field) fail(`unknown field "${key}" in ${type.fullName}`);
    field!.resolve();
    if (field!.map) {
      if (typeof value !== 'object' || value === null) fail(`${key}: expected a map`);
      out[field!.name] = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, element(field!, v, `${at}.${k}`)]));
    } else if (field!.repeated) {
      if (!Array.isArray(value)) throw new Error(`${at}: expected a list`);
      out[field!.name] = value.map((v, i) => element(field!, v, `${at}[${i}]`));
    } else {
      out[field!.name] = element(field!, value, at);
    }
  }
  return out;
}

function element(field: protobuf.Field, value: unknown, path: string): unknown {
  if (field.resolvedType instanceof protobuf.Type) return fromProtoJson(field.resolvedType, value, path);
  if (field.resolvedType instanceof protobuf.Enum) {
    const values = field.resolvedType.values;
    if (typeof value === 'string' && value in values) return values[value];
    if (typeof value === 'number' && Object.values(values).includes(value)) return value;
    throw new Error(`${path}: ${JSON.stringify(value)} is not a ${field.resolvedType.name} value`);
  }
  return scalar(field, value, path);
}

function scalar(field: protobuf.Field, value: unknown, path: string): unknown {
  const ok =
    field.type === 'string' ? typeof value === 'string'
    : field.type === 'bool' ? typeof value === 'boolean'
    : field.type === 'bytes' ? typeof value === 'string'
    : typeof value === 'number' || (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value));
  if (!ok) throw new Error(`${path}: ${JSON.stringify(value)} is not a valid ${field.type}`);
  return field.type === 'bytes' ? Buffer.from(value as string, 'base64') : value;
}

function anyFromJson(root: protobuf.Root, json: unknown, path: string): Record<string, unknown> {
  const { '@type': typeUrl, ...rest } = (json ?? {}) as Record<string, unknown>;
  if (typeof typeUrl !== 'string') throw new Error(`${path}: an Any needs "@type"`);
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  let inner: protobuf.Type;
  try {
    inner = root.lookupType(name);
  } catch {
    throw new Error(`${path}: unknown @type ${typeUrl}`);
  }
  const message = inner.fromObject(fromProtoJson(inner, rest, `${path}<${inner.name}>`));
  return { type_url: typeUrl, value: inner.encode(message).finish() };
}
