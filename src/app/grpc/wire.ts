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
  const descriptors = new Map<string, FieldDescriptor[]>();
  for (const [name, entry] of Object.entries(definition)) {
    const type = (entry as MessageTypeDefinition<unknown, unknown>).type as { field?: FieldDescriptor[] } | undefined;
    if (type?.field) descriptors.set(name, type.field);
  }
  /** Each message's fields, resolved once: how each is converted, and its message type's full name. */
  const plans = new Map<string, FieldPlan[]>();
  for (const [typeName, list] of descriptors) {
    const pkg = typeName.slice(0, typeName.lastIndexOf('.'));
    plans.set(
      typeName,
      list.map((field) => {
        const bare = field.typeName.replace(/^\./, '');
        const nested = field.type !== 'TYPE_MESSAGE' ? '' : descriptors.has(bare) ? bare : `${pkg}.${bare}`;
        const kind = nested === '' ? 'scalar' : nested === 'google.protobuf.Struct' ? 'struct' : nested === 'google.protobuf.Value' ? 'value' : 'message';
        return { name: field.name, repeated: field.label === 'LABEL_REPEATED', kind, nested };
      }),
    );
  }
  const plan = (typeName: string): FieldPlan[] => {
    const found = plans.get(typeName);
    if (!found) throw new Error(`unknown message type ${typeName}`);
    return found;
  };

  /** A service's JSON answer (Dates allowed, as JSON.stringify would write them) as the message `typeName`. */
  function toWire(value: unknown, typeName: string): Wire {
    const out: Wire = {};
    const source = (value ?? {}) as Record<string, unknown>;
    for (const field of plan(typeName)) {
      const v = source[field.name];
      if (v === undefined || v === null) continue;
      out[field.name] = field.repeated && Array.isArray(v) ? v.map((item) => fieldToWire(field, item)) : fieldToWire(field, v);
    }
    return out;
  }

  function fieldToWire(field: FieldPlan, v: unknown): unknown {
    switch (field.kind) {
      case 'scalar':
        return v instanceof Date ? v.toISOString() : v;
      case 'struct':
        return structOf(plain(v));
      case 'value':
        return valueOf(plain(v));
      default:
        return toWire(v, field.nested);
    }
  }

  /** A decoded request as the JSON object the HTTP schema of the same call validates. */
  function fromWire(value: Wire, typeName: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of plan(typeName)) {
      const v = value[field.name];
      if (v === undefined || v === null) continue;
      out[field.name] = Array.isArray(v) ? v.map((item: unknown) => fieldFromWire(field, item)) : fieldFromWire(field, v);
    }
    return out;
  }

  function fieldFromWire(field: FieldPlan, item: unknown): unknown {
    switch (field.kind) {
      case 'scalar':
        return item;
      case 'struct':
        return jsonOfStruct(item as Wire);
      case 'value':
        return jsonOfValue(item as Wire);
      default:
        return fromWire(item as Wire, field.nested);
    }
  }

  return { toWire, fromWire };
}

interface FieldPlan {
  name: string;
  repeated: boolean;
  kind: 'scalar' | 'struct' | 'value' | 'message';
  nested: string;
}

/** A free-form value as plain JSON (Dates as RFC 3339 strings), only when it holds something else. */
function plain(value: unknown): Json {
  return isPlainJson(value) ? (value as Json) : (JSON.parse(JSON.stringify(value)) as Json);
}

function isPlainJson(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'function' && typeof value !== 'undefined' && typeof value !== 'bigint';
  if (Array.isArray(value)) return value.every(isPlainJson);
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return false;
  return Object.values(value).every(isPlainJson);
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
