import { fileURLToPath } from 'node:url';
import { loadSync, type MessageTypeDefinition, type PackageDefinition } from '@grpc/proto-loader';

/** The repository's .proto files (proto/marketing_hub/v1), the one definition of the gRPC API. */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));
export const PROTO_FILES = ['campaigns', 'rewards', 'grants', 'inventory', 'redeem', 'tasks'].map((name) => `marketing_hub/v1/${name}.proto`);
export const PACKAGE = 'marketing_hub.v1';

/**
 * Field names as written (snake_case, the HTTP API's), 64-bit integers as JS numbers, and no
 * defaults filled in: a field the caller did not send is absent, as in a JSON body.
 */
export const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: false, includeDirs: [PROTO_DIR] };

export function loadDefinition(): PackageDefinition {
  return loadSync(PROTO_FILES, LOADER_OPTIONS);
}

interface FieldDescriptor {
  name: string;
  label: string;
  type: string;
  typeName: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Wire = Record<string, unknown>;

/**
 * Converts between the JSON the services answer (and the HTTP schemas validate) and the objects
 * grpc-js encodes and decodes. Only google.protobuf.Struct / Value fields differ in shape; a
 * message is walked by its descriptor, so unknown keys are dropped and null means "not set".
 */
export function createWire(definition: PackageDefinition) {
  const fieldsOf = new Map<string, FieldDescriptor[]>();
  for (const [name, entry] of Object.entries(definition)) {
    const type = (entry as MessageTypeDefinition<unknown, unknown>).type as { field?: FieldDescriptor[] } | undefined;
    if (type?.field) fieldsOf.set(name, type.field);
  }
  const fields = (typeName: string): FieldDescriptor[] => {
    const found = fieldsOf.get(typeName);
    if (!found) throw new Error(`unknown message type ${typeName}`);
    return found;
  };
  /** A field's message type as a full name (descriptors may name it relative to the package). */
  const resolved = new Map<string, string>();
  const typeOf = (field: FieldDescriptor, within: string): string => {
    const cacheKey = `${within} ${field.typeName}`;
    let name = resolved.get(cacheKey);
    if (name === undefined) {
      const bare = field.typeName.replace(/^\./, '');
      const pkg = within.slice(0, within.lastIndexOf('.'));
      name = fieldsOf.has(bare) ? bare : `${pkg}.${bare}`;
      resolved.set(cacheKey, name);
    }
    return name;
  };

  /** A service's JSON answer as the message `typeName`. Dates become RFC 3339 strings first. */
  function toWire(value: unknown, typeName: string): Wire {
    const plain = JSON.parse(JSON.stringify(value ?? {})) as Record<string, Json>;
    return messageToWire(plain, typeName);
  }

  function messageToWire(value: Record<string, Json>, typeName: string): Wire {
    const out: Wire = {};
    for (const field of fields(typeName)) {
      const v = value[field.name];
      if (v === undefined || v === null) continue;
      const repeated = field.label === 'LABEL_REPEATED';
      const one = (item: Json): unknown => (field.type === 'TYPE_MESSAGE' ? nestedToWire(item, typeOf(field, typeName)) : item);
      out[field.name] = repeated && Array.isArray(v) ? v.map(one) : one(v);
    }
    return out;
  }

  function nestedToWire(value: Json, typeName: string): unknown {
    if (typeName === 'google.protobuf.Struct') return structOf(value);
    if (typeName === 'google.protobuf.Value') return valueOf(value);
    return messageToWire((value ?? {}) as Record<string, Json>, typeName);
  }

  /** A decoded request as the JSON object the HTTP schema of the same call validates. */
  function fromWire(value: Wire, typeName: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of fields(typeName)) {
      const v = value[field.name];
      if (v === undefined || v === null) continue;
      const nested = field.type === 'TYPE_MESSAGE' ? typeOf(field, typeName) : '';
      const one = (item: unknown): unknown => {
        if (field.type !== 'TYPE_MESSAGE') return item;
        if (nested === 'google.protobuf.Struct') return jsonOfStruct(item as Wire);
        if (nested === 'google.protobuf.Value') return jsonOfValue(item as Wire);
        return fromWire(item as Wire, nested);
      };
      out[field.name] = Array.isArray(v) ? v.map(one) : one(v);
    }
    return out;
  }

  return { toWire, fromWire };
}

export type WireCodec = ReturnType<typeof createWire>;

function structOf(value: Json): Wire {
  const fields: Wire = {};
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) fields[k] = valueOf(v);
  }
  return { fields };
}

function valueOf(value: Json): Wire {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(valueOf) } };
  return { structValue: structOf(value) };
}

function jsonOfStruct(struct: Wire | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((struct?.fields ?? {}) as Record<string, Wire>)) out[k] = jsonOfValue(v);
  return out;
}

function jsonOfValue(value: Wire | undefined): unknown {
  if (!value) return null;
  if ('stringValue' in value) return value.stringValue;
  if ('numberValue' in value) return value.numberValue;
  if ('boolValue' in value) return value.boolValue;
  if ('structValue' in value) return jsonOfStruct(value.structValue as Wire);
  if ('listValue' in value) return (((value.listValue as Wire | undefined)?.values ?? []) as Wire[]).map(jsonOfValue);
  return null;
}
