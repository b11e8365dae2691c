import 'reflect-metadata';
import { runApp } from '@fpa/platform';
import { ChallengeAppModule } from './challenge-app.module';

void runApp('challenge', (config) => ChallengeAppModule.forRoot(config));
