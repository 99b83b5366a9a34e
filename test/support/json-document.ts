/**
 * A deterministic JSON document of about 20 KB (a page of a product catalogue: repeated keys, short strings,
 * numbers, ISO dates), the value the compression tests and benchmark (j) store.
 */

/** One item of {@link jsonDocument}. */
export interface CatalogueItem {
  id: number;
  sku: string;
  name: string;
  description: string;
  price: number;
  currency: string;
  inStock: boolean;
  tags: string[];
  updatedAt: string;
}

/** The document: `{ page, total, items }` with as many items as make about `targetBytes` bytes of JSON. */
export function jsonDocument(targetBytes = 20_000): { page: number; total: number; items: CatalogueItem[] } {
  const words = ['steel', 'oak', 'linen', 'compact', 'deluxe', 'outdoor', 'kitchen', 'garden', 'classic', 'travel', 'studio', 'eco'];
  const doc = { page: 1, total: 0, items: [] as CatalogueItem[] };
  for (let i = 0; JSON.stringify(doc).length < targetBytes; i++) {
    const word = (n: number): string => words[(i * 7 + n * 5) % words.length] as string;
    doc.items.push({
      id: 10_000 + i,
      sku: `SKU-${(i * 7919) % 100_000}`.padEnd(10, '0'),
      name: `${word(1)} ${word(2)} ${i}`,
      description: `A ${word(3)} ${word(4)} item for the ${word(5)}, made of ${word(6)}.`,
      price: Math.round(((i * 37) % 500) * 100 + 99) / 100,
      currency: 'EUR',
      inStock: i % 3 !== 0,
      tags: [word(7), word(8)],
      updatedAt: new Date(Date.UTC(2026, 10, 1) + i * 3_600_000).toISOString(),
    });
    doc.total = doc.items.length;
  }
  return doc;
}
