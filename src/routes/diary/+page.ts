// Prerendered with its HTML (src/routes/+layout.ts): this screen paints before its JavaScript runs.
export const ssr = true;
