// `npm start` needs local secrets: on first run, create .dev.vars from the example
// (a local-only gateway key, empty provider keys) and say where to put real keys.
import { copyFileSync, existsSync } from 'node:fs';

if (!existsSync('.dev.vars')) {
  copyFileSync('.dev.vars.example', '.dev.vars');
  console.log('Created .dev.vars from .dev.vars.example: gateway key "sk-switchboard-local-dev".');
  console.log('Add your provider keys (OPENAI_API_KEY, ANTHROPIC_API_KEY, …) there; it is git-ignored.');
}
