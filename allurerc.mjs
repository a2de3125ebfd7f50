import { defineConfig } from 'allure';

export default defineConfig({
  name: 'tenantproof',
  output: './reports/allure-report',
  plugins: {
    awesome: {
      options: {
        singleFile: true,
        reportName: 'tenantproof — tenant isolation evidence',
        groupBy: ['parentSuite', 'suite', 'subSuite'],
      },
    },
  },
});
