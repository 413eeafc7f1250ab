//! Custom fields in the OpenAPI document. Each resource that carries them has two components,
//! `{Type}CustomFields` (what records hold) and `{Type}CustomFieldsInput` (what writes send,
//! `null` clearing a value), which its record, input and patch schemas refer to. The document
//! of this build (`openapi/openapi.json`) has them closed and empty: without definitions, no key
//! is accepted. The document served at `/openapi.json` has them typed by the live definitions,
//! and the resource's `sort` parameter takes their sort keys (`custom_fields.<name>`).

use crm_core::custom::{CustomFieldType, DEFAULT_MAX_LENGTH};
use crm_records::custom::{CustomField, CustomResource};
use serde_json::{Map, Value, json};

use crate::registry::RESOURCES;

/// Types the custom-field parts of `doc` by `fields` (live definitions, in their order).
pub fn apply(doc: &mut Value, fields: &[CustomField]) {
    for r in RESOURCES {
        let Some(resource) = CustomResource::parse(r.collection.trim_start_matches('/')) else { continue };
        let catalog = (r.catalog)();
        let node = catalog.name;
        let own: Vec<&CustomField> = fields.iter().filter(|f| f.resource == resource).collect();
        let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
        let output = format!("{node}CustomFields");
        let input = format!("{node}CustomFieldsInput");
        schemas.insert(output.clone(), object(resource, &own, false));
        schemas.insert(input.clone(), object(resource, &own, true));
        for (schema, target) in
            [(node.to_string(), &output), (format!("{node}Input"), &input), (format!("{node}Patch"), &input)]
        {
            if let Some(prop) = schemas.get_mut(&schema).and_then(|s| s.pointer_mut("/properties/custom_fields")) {
                let description = prop.get("description").cloned();
                let mut reference = json!({"$ref": format!("#/components/schemas/{target}")});
                if let Some(d) = description {
                    reference["description"] = d;
                }
                *prop = reference;
            }
        }
        if own.is_empty() {
            continue;
        }
        // The list's sort keys: the built-in ones and the custom fields' own.
        let specs: Vec<_> = own.iter().map(|f| f.spec()).collect();
        let custom = specs.iter().flat_map(crm_core::custom::field_defs);
        let path = format!("/paths/~1api~1v1~1{}/get/parameters", r.collection.trim_start_matches('/'));
        if let Some(params) = doc.pointer_mut(&path).and_then(Value::as_array_mut)
            && let Some(sort) = params.iter_mut().find(|p| p["name"] == "sort")
        {
            super::contract::describe_sort(sort, catalog.fields.iter().chain(custom));
        }
    }
}

/// The object of a resource's custom fields, typed (`nullable` values in inputs).
fn object(resource: CustomResource, fields: &[&CustomField], nullable: bool) -> Value {
    let mut properties = Map::new();
    for f in fields {
        properties.insert(f.name.clone(), property(f, nullable));
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let what = if nullable {
        "sent in a write (`null` clears a value; a patch merges them key by key)"
    } else {
        "a record holds"
    };
    let description = if names.is_empty() {
        format!(
            "The custom fields of {} {what}. None is defined, so no key is accepted: an administrator defines them \
             with `POST /api/v1/schema/{}/fields`, and `/openapi.json` then types them.",
            resource.as_str(),
            resource.as_str()
        )
    } else {
        format!("The custom fields of {} {what}: {}.", resource.as_str(), names.join(", "))
    };
    json!({
        "type": if nullable { json!(["object", "null"]) } else { json!("object") },
        "description": description,
        "properties": properties,
        "additionalProperties": false,
    })
}

/// One custom field's value schema.
fn property(f: &CustomField, nullable: bool) -> Value {
    let types = |t: &str| if nullable { json!([t, "null"]) } else { json!(t) };
    let options: Vec<Value> = f.options.iter().map(|o| json!(o.value)).collect();
    let mut p = match f.field_type {
        CustomFieldType::Text => {
            json!({"type": types("string"), "maxLength": f.max_length.unwrap_or(DEFAULT_MAX_LENGTH)})
        }
        CustomFieldType::Number => {
            let mut n = json!({"type": types("number")});
            if let Some(m) = f.min_value {
                n["minimum"] = json!(m);
            }
            if let Some(m) = f.max_value {
                n["maximum"] = json!(m);
            }
            n
        }
        CustomFieldType::Money if nullable => {
            json!({"oneOf": [{"$ref": "#/components/schemas/Money"}, {"type": "null"}]})
        }
        CustomFieldType::Money => json!({"$ref": "#/components/schemas/Money"}),
        CustomFieldType::Date => json!({"type": types("string"), "format": "date"}),
        CustomFieldType::Boolean => json!({"type": types("boolean")}),
        CustomFieldType::Enum => {
            let mut values = options.clone();
            if nullable {
                values.push(Value::Null);
            }
            json!({"type": types("string"), "enum": values})
        }
        CustomFieldType::MultiEnum => {
            json!({"type": types("array"), "items": {"type": "string", "enum": options}, "uniqueItems": true})
        }
        CustomFieldType::Reference => json!({"type": types("string"), "format": "uuid"}),
    };
    let mut about = vec![f.label.clone()];
    if let Some(d) = &f.description {
        about.push(d.clone());
    }
    if let Some(to) = f.reference_to {
        about.push(format!("The id of a record of {}.", to.as_str()));
    }
    if f.required {
        about.push("Required: a new record needs it (unless it has a default), and an update may not clear it.".into());
    }
    p["description"] = json!(about.join(" "));
    if let Some(d) = f.default_value.as_ref().filter(|_| nullable) {
        p["default"] = d.clone();
    }
    p["x-custom-field"] = json!({"id": f.id, "label": f.label, "type": f.field_type.as_str(), "required": f.required});
    p
}
