import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { ClientAdminService } from './client-admin.service';

/** CLIENTS_FILE: declarative clients, upserted into PostgreSQL at start (idempotent across replicas). */
@Injectable()
export class ClientsFileLoader implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly admin: ClientAdminService,
  ) {}

  async onModuleInit(): Promise<void> {
    const path = this.config.clientsFile;
    if (!path || this.config.app === 'cli') return;
    const clients = await this.admin.loadFile(path);
    new Logger('Clients').log(`loaded ${clients.length} client(s) from ${path}`);
  }
}
