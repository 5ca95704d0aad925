// tar-fs ships no types; only pack() with an explicit entry list is used.
declare module "tar-fs" {
  export function pack(cwd: string, options?: { entries?: string[] }): NodeJS.ReadableStream;
  const tar: { pack: typeof pack };
  export default tar;
}
