export * from './events';
export * from './acr-policy';
export * from './assess';
export * from './enrolment';
