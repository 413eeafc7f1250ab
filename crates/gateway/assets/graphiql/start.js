// Starts GraphiQL against this server. Every request needs a bearer token: put it in the
// Headers tab (`make token` prints one for local use); GraphiQL keeps it in this browser's
// local storage. `?query=…` in the address opens that query in the editor.
(function () {
  var params = new URLSearchParams(window.location.search);
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + "/graphql" });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: true,
      defaultHeaders: '{\n  "Authorization": "Bearer <paste a token: make token>"\n}',
      defaultQuery: "# Put your token in the Headers tab below, then run this query.\n# The round arrow on the left reloads the schema for completion and the docs.\n{\n  accounts(first: 5) {\n    nodes { id name tier }\n  }\n}\n",
      query: params.get("query") || undefined,
    })
  );
})();
