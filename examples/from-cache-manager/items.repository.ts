/**
 * The "database" of the migration example, shared by both versions of the app (examples/from-cache-manager/before
 * and after): a migration changes the caching, not the data layer. It counts the reads that reach it (`loads`), so
 * a response can show whether it came from the cache.
 */
import { Injectable, NotFoundException } from '@nestjs/common';

export interface Item {
  readonly id: number;
  readonly name: string;
}

@Injectable()
export class ItemsRepository {
  /** Reads that reached the database (a cached response does not count). */
  loads = 0;
  private readonly items = new Map<number, Item>([
    [1, { id: 1, name: 'Keyboard' }],
    [2, { id: 2, name: 'Trackball' }],
  ]);
  private nextId = 3;

  list(): Item[] {
    this.loads++;
    return [...this.items.values()];
  }

  find(id: number): Item {
    this.loads++;
    const item = this.items.get(id);
    if (item === undefined) throw new NotFoundException(`no item ${id}`);
    return item;
  }

  /** Page `page` (from 1) of the catalogue, newest first, `size` items a page. */
  page(page: number, size: number): Item[] {
    this.loads++;
    const newestFirst = [...this.items.values()].reverse();
    return newestFirst.slice((page - 1) * size, page * size);
  }

  count(): number {
    this.loads++;
    return this.items.size;
  }

  create(name: string): Item {
    const item = { id: this.nextId++, name };
    this.items.set(item.id, item);
    return item;
  }

  update(id: number, name: string): Item {
    if (!this.items.has(id)) throw new NotFoundException(`no item ${id}`);
    const item = { id, name };
    this.items.set(id, item);
    return item;
  }
}
