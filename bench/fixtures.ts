/** Values and helpers shared by the benchmark groups. */

/** A JSON-like object of about 1 KB (as JSON), the value of every case. */
export interface BenchValue {
  id: number;
  email: string;
  name: string;
  active: boolean;
  roles: string[];
  address: { street: string; city: string; zip: string; country: string };
  orders: { id: number; total: number; status: string; sku: string }[];
  bio: string;
}

export function makeValue(): BenchValue {
  return {
    id: 42,
    email: 'ada.lovelace@example.com',
    name: 'Ada Lovelace',
    active: true,
    roles: ['admin', 'editor', 'viewer'],
    address: { street: '12 Analytical Engine Road', city: 'London', zip: 'NW1 2DB', country: 'GB' },
    orders: Array.from({ length: 8 }, (_, i) => ({
      id: 1000 + i,
      total: 19.99 * (i + 1),
      status: i % 2 === 0 ? 'shipped' : 'pending',
      sku: `SKU-${(7919 * (i + 1)).toString(36).toUpperCase()}`,
    })),
    bio: 'Mathematician and writer, chiefly known for her work on the proposed mechanical general-purpose computer. '.repeat(
      3,
    ),
  };
}

/** Size of a value as JSON, in bytes. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
