import { Injectable } from '@nestjs/common';
import { Cacheable, CacheEvict } from '../../lib/index.js';
import { CatalogueRepository, type Author } from './catalogue.repository.js';

/** Authors, cached a minute; renaming one invalidates it and every product tagged with it. */
@Injectable()
export class AuthorsService {
  constructor(private readonly repository: CatalogueRepository) {}

  @Cacheable({ key: 'author:{0}', ttl: 60, tags: (args: [number]) => [`author:${args[0]}`] })
  findOne(id: number): Promise<Author | null> {
    return this.repository.findAuthor(id);
  }

  @CacheEvict({ tags: (args: [number, string]) => [`author:${args[0]}`] })
  rename(id: number, name: string): Promise<Author | null> {
    return this.repository.renameAuthor(id, name);
  }
}
