import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './coordinator/store/schema.ts',
  out: './coordinator/store/migrations',
});
