import 'reflect-metadata';
import { runApp } from '@fpa/platform';
import { FederationAppModule } from './federation-app.module';

void runApp('federation', (config) => FederationAppModule.forRoot(config));
