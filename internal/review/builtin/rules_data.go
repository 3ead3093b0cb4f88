package builtin

import "github.com/tricyclehq/tricycle/internal/review"

var (
	rePyDeser       = rx(`\b(?:c?[Pp]ickle|dill|marshal|shelve|jsonpickle)\.(?:loads?|open|decode|Unpickler)\(|\byaml\.unsafe_load\(|\byaml\.load(?:_all)?\(`)
	rePyYAMLSafe    = rx(`Loader\s*=\s*(?:yaml\.)?C?SafeLoader\b`)
	reJavaDeser     = rx(`\bnew\s+ObjectInputStream\(|\bnew\s+XMLDecoder\(|\.enableDefaultTyping\(|\bactivateDefaultTyping\(|\.fromXML\(`)
	reJSDeser       = rx(`\bunserialize\(|\bdeserialize\(`)
	reJavaXMLParser = rx(`\b(?:DocumentBuilderFactory|SAXParserFactory|XMLInputFactory|TransformerFactory|SchemaFactory)\.newInstance\(`)
	reJavaXMLSafe   = rx(`disallow-doctype-decl|FEATURE_SECURE_PROCESSING|SUPPORT_DTD|ACCESS_EXTERNAL_DTD|external-general-entities|setExpandEntityReferences\(\s*false`)
)

func dataRules() []rule {
	return []rule{
		{id: "deserialization/unsafe", category: catSecurity, severity: review.SeverityHigh, langs: lPy,
			kw: []string{"pickle", "dill", "marshal", "shelve", "jsonpickle", "yaml."}, match: all(onCode(rePyDeser), not(onCode(rePyYAMLSafe))),
			message:    "Deserializing with pickle, marshal or yaml.load (without SafeLoader) runs code chosen by whoever controls the data.",
			suggestion: "Use json, or yaml.safe_load; never unpickle data from outside the process."},
		{id: "deserialization/unsafe", category: catSecurity, severity: review.SeverityHigh, langs: lJava,
			kw: []string{"objectinputstream", "xmldecoder", "defaulttyping", "fromxml"}, match: onCode(reJavaDeser),
			message:    "Java native deserialization (ObjectInputStream, XMLDecoder, polymorphic typing) of untrusted data leads to remote code execution.",
			suggestion: "Exchange data as JSON into concrete types; if ObjectInputStream is unavoidable, set an ObjectInputFilter allow-list."},
		{id: "deserialization/unsafe", category: catSecurity, severity: review.SeverityHigh, langs: lWeb,
			kw: []string{"serialize"}, match: onBare(reJSDeser),
			message:    "node-serialize style deserialization evaluates functions embedded in the data.",
			suggestion: "Use JSON.parse and validate the result."},
		{id: "xml/xxe", category: catSecurity, severity: review.SeverityMedium, langs: lJava,
			kw: []string{"factory"}, match: all(onCode(reJavaXMLParser), not(fileHas(reJavaXMLSafe))),
			message:    "XML parser created without disabling DTDs and external entities: XML external entity (XXE) attacks.",
			suggestion: "Set the feature http://apache.org/xml/features/disallow-doctype-decl to true (or XMLConstants.FEATURE_SECURE_PROCESSING)."},
	}
}
