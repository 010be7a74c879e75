import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { FastifySchemaCompiler, FastifySerializerCompiler, FastifyServerOptions } from 'fastify'

// Fastify's own compilers are Ajv (validation) and fast-json-stringify
// (serialization). The schemas here are TypeBox's, so TypeBox's compiler
// checks them; and given these factories Fastify never loads the other two,
// which keeps ~280 KB and their start-up work out of every Lambda cold start
// (scripts/bundles.mjs leaves them out of the bundles).

/** Checks the path parameters against their route schema. */
const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart, url }) => {
  // Path parameters are strings, as the schemas say. A query string or header schema
  // with numbers or booleans would want the type coercion Ajv did and this does not.
  if (httpPart !== 'params') throw new Error(`${url}: only path parameters are validated (not ${String(httpPart)})`)
  const checker = TypeCompiler.Compile(schema)
  return (data: unknown) => checker.Check(data)
    ? { value: data }
    : {
        error: [...checker.Errors(data)].map((error) => ({
          keyword: String(error.type),
          instancePath: error.path,
          schemaPath: '#',
          params: {},
          message: error.message
        }))
      }
}

// The response schemas document the records, but fast-json-stringify would
// coerce by them (null to "", a string to a number); CONTRACT 2.1 wants every
// value as the source gave it. The records are shaped in one place already.
const serializerCompiler: FastifySerializerCompiler<TSchema> = () => (data) => JSON.stringify(data)

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>

/** For Fastify's `schemaController.compilersFactory` option. */
export const schemaCompilers = {
  // Fastify types the factories with Ajv's signatures; it calls the compiler they return with the route's schema alone.
  buildValidator: () => validatorCompiler,
  buildSerializer: () => serializerCompiler
} as unknown as CompilersFactory
