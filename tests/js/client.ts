// A frontend's view of the CRM: the client generated from openapi/openapi.json by
// openapi-typescript, used through openapi-fetch. `tsc` type-checks it (make client-check);
// tests/api/client.rs also runs it against a live server. Usage: node out/client.js <base> <token>.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api.js";

type Account = components["schemas"]["Account"];
type Problem = components["schemas"]["Problem"];

const [base, token] = process.argv.slice(2);
const api = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${token}` } });

function fail(what: string, detail: unknown): never {
  console.error(`FAIL ${what}: ${JSON.stringify(detail)}`);
  process.exit(1);
}

async function main(): Promise<void> {
  // 1. Create an account.
  const created = await api.POST("/api/v1/accounts", {
    body: { name: "Typed Co", domain: "typed.example", tier: "gold", tags: ["ts"] },
  });
  if (!created.data) fail("create", created.error);
  const account: Account = created.data;

  // 2. Read it back; the ETag carries its version.
  const read = await api.GET("/api/v1/accounts/{id}", { params: { path: { id: account.id } } });
  if (!read.data || read.response.headers.get("etag") !== `"${account.version}"`) fail("read", read.error);

  // 3. Upsert a contact by the id another system gives it, at the account.
  const upserted = await api.PUT("/api/v1/contacts/by-external-id/{source}/{external_id}", {
    params: { path: { source: "erp", external_id: "C-1" } },
    body: { first_name: "Min-jun", last_name: "Kim", email: "minjun@typed.example", account_id: account.id },
  });
  if (!upserted.data) fail("upsert", upserted.error);
  const contactId: string = upserted.data.id;

  // 4. A conditional merge patch: right version, then a stale one answered 412 as a problem.
  const patched = await api.PATCH("/api/v1/contacts/{id}", {
    params: { path: { id: contactId }, header: { "If-Match": `"${upserted.data.version}"` } },
    body: { city: "Seoul" },
  });
  if (!patched.data || patched.data.city !== "Seoul") fail("patch", patched.error);
  const stale = await api.PATCH("/api/v1/contacts/{id}", {
    params: { path: { id: contactId }, header: { "If-Match": `"${upserted.data.version}"` } },
    body: { city: "Busan" },
  });
  const problem: Problem | undefined = stale.error;
  if (stale.response.status !== 412 || problem?.code !== "VERSION_CONFLICT") fail("stale patch", stale.error);

  // 5. List the account's contacts in Seoul, sorted, with the account embedded.
  const listed = await api.GET("/api/v1/contacts", {
    params: { query: { filter: `account_id[eq]:${account.id},city[eq]:Seoul`, sort: "-created_at", include: "account", limit: 10 } },
  });
  if (!listed.data) fail("list", listed.error);
  const names = listed.data.data.map((c) => `${c.first_name} ${c.last_name}`);
  if (names.join() !== "Min-jun Kim") fail("list", names);

  // The types are the contract: a misspelled field or a wrong type does not compile.
  // @ts-expect-error `nmae` is not a field of AccountInput
  void (() => api.POST("/api/v1/accounts", { body: { nmae: "x" } }));
  // @ts-expect-error `tier` is an enumeration
  void (() => api.POST("/api/v1/accounts", { body: { name: "x", tier: "wood" } }));

  console.log(`ok: ${account.name} (${account.id}), contact ${contactId}, listed ${names.join()}`);
}

main().catch((e) => fail("exception", String(e)));
