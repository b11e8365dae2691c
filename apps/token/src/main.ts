import 'reflect-metadata';
import { runApp } from '@fpa/platform';
import { TokenAppModule } from './token-app.module';

void runApp('token', (config) => TokenAppModule.forRoot(config));
