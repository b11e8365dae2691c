import 'reflect-metadata';
import { runApp } from '@fpa/platform';
import { RegistrationAppModule } from './registration-app.module';

void runApp('registration', (config) => RegistrationAppModule.forRoot(config));
